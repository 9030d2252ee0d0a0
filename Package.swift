// swift-tools-version: 6.1
// AMQPWire and the messaging stack built on it. No package dependencies: only the Swift
// toolchain (standard library, Foundation, Glibc, Dispatch, Synchronization).
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Async functions run on their caller's executor instead of hopping to the global one and back:
    // a publish from the main actor or any actor costs no thread switch (SE-0461).
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "amqp-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AMQPWire", targets: ["AMQPWire"]),
        .library(name: "Messaging", targets: ["Messaging"]),
        .library(name: "EmailContracts", targets: ["EmailContracts"]),
        .library(name: "Mail", targets: ["Mail"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
        .executable(name: "email-service", targets: ["EmailService"]),
        .executable(name: "web-service", targets: ["WebService"]),
        .executable(name: "amqp-codegen", targets: ["AMQPCodegen"]),
        .executable(name: "amqp-bench", targets: ["AMQPBench"]),
        .executable(name: "amqp-codec-bench", targets: ["AMQPCodecBench"]),
        .executable(name: "amqp-client-bench", targets: ["AMQPClientBench"]),
        .executable(name: "http-bench-server", targets: ["HTTPBenchServer"]),
    ],
    targets: [
        // The AMQP 0-9-1 client: codec, state machines, sockets, async channel API.
        .target(name: "AMQPWire", dependencies: ["POSIXSockets"], swiftSettings: strict),
        // The one socket layer (POSIX calls, `package` access): AMQP client, SMTP client, HTTP server.
        .target(name: "POSIXSockets", swiftSettings: strict),
        // Logging and metrics (Prometheus text) for the libraries and services.
        .target(name: "Observability", swiftSettings: strict),
        // Typed commands, events and RPC over AMQPWire.
        .target(name: "Messaging", dependencies: ["AMQPWire", "Observability"], swiftSettings: strict),
        // HTTP/1.1 server (event loop thread, router, forms, limits), for the web service and others.
        .target(name: "HTTPServer", dependencies: ["POSIXSockets", "Observability"], swiftSettings: strict),
        // Serves /health and /form for scripts/bench-http.sh (wrk).
        .executableTarget(name: "HTTPBenchServer", dependencies: ["HTTPServer"], swiftSettings: strict),
        // Email: address validation, RFC 5322/MIME messages, the SMTP client, transports.
        .target(name: "Mail", dependencies: ["POSIXSockets", "Observability"], swiftSettings: strict),
        // What both services need: options from flags and environment, broker settings, signals.
        .target(name: "ServiceSupport", dependencies: ["AMQPWire", "Observability"], swiftSettings: strict),
        // The email service's commands, RPC and events: the library other services link.
        .target(name: "EmailContracts", dependencies: ["Messaging"], swiftSettings: strict),
        // The email service's logic (configuration, journal, handlers), tested without the executable.
        .target(
            name: "EmailServiceCore",
            dependencies: ["Messaging", "EmailContracts", "Mail", "HTTPServer", "ServiceSupport", "Observability"],
            swiftSettings: strict),
        .executableTarget(name: "EmailService", dependencies: ["EmailServiceCore"], swiftSettings: strict),
        // The web service's logic (outbox, pages, API), tested without the executable.
        .target(
            name: "WebServiceCore",
            dependencies: ["Messaging", "EmailContracts", "Mail", "HTTPServer", "ServiceSupport", "Observability"],
            swiftSettings: strict),
        .executableTarget(name: "WebService", dependencies: ["WebServiceCore"], swiftSettings: strict),
        // Throughput benchmark, side by side with other clients through ../shared/bench/compare.
        .executableTarget(name: "AMQPBench", dependencies: ["AMQPWire", "BenchSupport"], swiftSettings: strict),
        // Codec micro-benchmarks (time and allocations per operation; scripts/bench-codec.sh).
        .executableTarget(name: "AMQPCodecBench", dependencies: ["AMQPWire", "BenchSupport"], swiftSettings: strict),
        // The client's own CPU per message against a scripted in-process server (no broker).
        .executableTarget(
            name: "AMQPClientBench", dependencies: ["AMQPWire", "POSIXSockets", "BenchSupport"],
            swiftSettings: strict),
        // What the benchmark executables share (CPU time).
        .target(name: "BenchSupport", swiftSettings: strict),
        // Generates Sources/AMQPWire/Generated from Specs/*.xml.
        .target(name: "AMQPCodegenCore", swiftSettings: strict),
        .executableTarget(name: "AMQPCodegen", dependencies: ["AMQPCodegenCore"], swiftSettings: strict),

        .testTarget(name: "AMQPWireTests", dependencies: ["AMQPWire", "POSIXSockets"], swiftSettings: strict),
        .testTarget(
            name: "AMQPWireIntegrationTests", dependencies: ["AMQPWire", "ServiceTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "MessagingIntegrationTests",
            dependencies: ["Messaging", "EmailContracts", "AMQPWire", "ServiceTestSupport"],
            exclude: ["Interop"], swiftSettings: strict),
        // Test helpers shared by the integration and service tests: child processes, private brokers.
        .target(name: "ServiceTestSupport", path: "Tests/ServiceTestSupport", swiftSettings: strict),
        .testTarget(
            name: "EmailServiceTests",
            dependencies: [
                "EmailServiceCore", "EmailContracts", "Mail", "Messaging", "ServiceSupport", "AMQPWire",
                "ServiceTestSupport",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "WebServiceTests",
            dependencies: [
                "WebServiceCore", "EmailContracts", "HTTPServer", "Observability", "Messaging", "AMQPWire",
                "ServiceTestSupport",
            ],
            swiftSettings: strict),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "AMQPWire"], swiftSettings: strict),
        // amqp-bench and scripts/bench-ceiling.py, run as built against the broker.
        .testTarget(name: "BenchToolTests", dependencies: ["ServiceTestSupport"], swiftSettings: strict),
        .testTarget(name: "POSIXSocketsTests", dependencies: ["POSIXSockets"], swiftSettings: strict),
        .testTarget(
            name: "MailTests", dependencies: ["Mail", "POSIXSockets"], exclude: ["Servers"],
            swiftSettings: strict),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "POSIXSockets"], swiftSettings: strict),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability"], swiftSettings: strict),
        .testTarget(name: "AMQPCodegenTests", dependencies: ["AMQPCodegenCore"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
