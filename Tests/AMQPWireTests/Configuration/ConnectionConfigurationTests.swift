import Testing

@testable import AMQPWire

/// `init(urls:)` endpoint lists and `validate()`.
@Suite struct ConnectionConfigurationTests {
    typealias Endpoint = AMQPConnectionConfiguration.Endpoint

    @Test func endpointsComeFromEveryURIInOrder() throws {
        let config = try AMQPConnectionConfiguration(urls: [
            "amqp://app:pw@rabbit-1/orders?heartbeat=15",
            "amqp://app:pw@rabbit-2:5673/orders",
            "amqp://app:pw@[fd00::3]/orders",
        ])
        #expect(
            config.endpoints == [
                Endpoint(host: "rabbit-1"), Endpoint(host: "rabbit-2", port: 5673), Endpoint(host: "fd00::3"),
            ])
        #expect(config.username == "app")
        #expect(config.password == "pw")
        #expect(config.virtualHost == "orders")
        #expect(config.heartbeat == 15)
    }

    @Test func laterURIsMayNotContradictTheFirst() {
        for urls in [
            ["amqp://app:pw@rabbit-1/orders", "amqp://app:other@rabbit-2/orders"],
            ["amqp://app:pw@rabbit-1/orders", "amqp://app:pw@rabbit-2/billing"],
            ["amqp://app:pw@rabbit-1/orders?heartbeat=15", "amqp://app:pw@rabbit-2/orders?heartbeat=30"],
        ] {
            #expect(throws: AMQPError.self, "\(urls)") { try AMQPConnectionConfiguration(urls: urls) }
        }
    }

    @Test func singleURIListEqualsThatURI() throws {
        #expect(
            try AMQPConnectionConfiguration(urls: ["amqp://h:1/v"]) == AMQPConnectionConfiguration(url: "amqp://h:1/v"))
    }

    @Test func emptyURIListIsRefused() {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(urls: []) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("URI") == true)
    }

    @Test(arguments: [
        ["amqp://app:pw@h1", "amqp://other:pw@h2"],
        ["amqp://app:pw@h1", "amqp://app:secret2@h2"],
        ["amqp://app:pw@h1/a", "amqp://app:pw@h2/b"],
        ["amqp://app:pw@h1", "amqp://app:pw@h2", "amqp://app:pw@h3/elsewhere"],
    ])
    func urisNamingOtherCredentialsOrVirtualHostAreRefused(urls: [String]) {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(urls: urls) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("URI \(urls.count)") == true)
        #expect(error?.message.contains("secret2") == false)
    }

    @Test func invalidLaterURIIsRefused() {
        let error = #expect(throws: AMQPError.self) {
            try AMQPConnectionConfiguration(urls: ["amqp://h1", "amqp://h2:99999"])
        }
        #expect(error?.message.contains("port") == true)
    }

    @Test func defaultConfigurationIsValid() throws {
        try AMQPConnectionConfiguration().validate()
    }

    struct Invalid: Sendable, CustomStringConvertible {
        var name: String
        var mentions: String
        var change: @Sendable (inout AMQPConnectionConfiguration) -> Void
        var description: String { name }
    }

    @Test(arguments: [
        Invalid(name: "no endpoints", mentions: "endpoints") { $0.endpoints = [] },
        Invalid(name: "port 0", mentions: "port") { $0.endpoints = [Endpoint(host: "h", port: 0)] },
        Invalid(name: "port 65536", mentions: "h:65536") { $0.endpoints = [Endpoint(host: "h", port: 65536)] },
        Invalid(name: "empty host", mentions: "host") { $0.endpoints.append(Endpoint(host: "")) },
        Invalid(name: "frame_max below 8192", mentions: "frameMax") { $0.frameMax = 8191 },
        Invalid(name: "no mechanisms", mentions: "auth") { $0.authMechanisms = [] },
        Invalid(name: "negative max message size", mentions: "maxMessageSize") { $0.maxMessageSize = -1 },
        Invalid(name: "zero timeout", mentions: "connectionTimeout") { $0.connectionTimeout = .zero },
        Invalid(name: "negative timeout", mentions: "connectionTimeout") { $0.connectionTimeout = .seconds(-1) },
        Invalid(name: "negative delivery coalescing", mentions: "deliveryCoalescing") {
            $0.deliveryCoalescing = .microseconds(-1)
        },
        Invalid(name: "delivery coalescing over 10 ms", mentions: "deliveryCoalescing") {
            $0.deliveryCoalescing = .microseconds(10_001)
        },
        Invalid(name: "virtual host over 255 bytes", mentions: "virtual host") {
            $0.virtualHost = String(repeating: "v", count: 256)
        },
        Invalid(name: "connection name over 65535 bytes", mentions: "connection name") {
            $0.connectionName = String(repeating: "n", count: 65536)
        },
    ])
    func validateRefusesWhatTheBrokerWouldRefuse(_ c: Invalid) {
        var config = AMQPConnectionConfiguration()
        c.change(&config)
        let error = #expect(throws: AMQPError.self) { try config.validate() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(c.mentions) == true, "'\(c.mentions)' missing from: \(error?.message ?? "")")
    }

    @Test func validateAcceptsBoundaryValues() throws {
        var config = AMQPConnectionConfiguration()
        config.endpoints = [Endpoint(host: "h", port: 1), Endpoint(host: "::1", port: 65535)]
        config.frameMax = 0
        try config.validate()
        config.frameMax = 8192
        config.virtualHost = String(repeating: "v", count: 255)
        config.connectionName = String(repeating: "n", count: 65535)
        config.maxMessageSize = 0
        config.deliveryCoalescing = .zero
        try config.validate()
        config.deliveryCoalescing = .milliseconds(10)
        config.connectionTimeout = .milliseconds(1)
        try config.validate()
    }
}
