import Foundation
import ServiceTestSupport
import Testing

/// The benchmark tools, run as built: `amqp-bench` against the real broker in both modes and
/// with bad arguments, the ceiling client `scripts/bench-ceiling.py`, and `amqp-client-bench`
/// against its own loopback server. Rates are not judged (speed is for benchmarks); what is
/// checked is that each phase runs to the end and prints what its reader parses.
@Suite struct BenchToolTests {
    static var brokerURL: String {
        ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    static func unique(_ prefix: String) -> String { "test-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// Runs a command to its end; its exit status and output lines (stdout and stderr together).
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, lines: [String]) {
        let child = try ChildProcess(executable, arguments, environment: ["AMQP_URL": brokerURL])
        let status = await child.waitForExit(timeout: .seconds(120))
        return (status, child.lines)
    }

    /// amqp-bench with `arguments` and a queue of its own; its exit status and output lines.
    static func bench(_ arguments: [String], queue: String) async throws -> (status: Int32, lines: [String]) {
        try await run(try ChildProcess.product("amqp-bench"), arguments + ["--queue", unique(queue)])
    }

    /// The "<name> <phase> <rate> msg/s" line for `phase`, with a positive rate.
    static func rate(_ lines: [String], name: String, phase: String) -> Int? {
        for line in lines {
            let words = line.split(separator: " ")
            if words.count == 4, words[0] == name, words[1] == phase, words[3] == "msg/s", let rate = Int(words[2]),
                rate > 0
            {
                return rate
            }
        }
        return nil
    }

    @Test func phasesPrintWhatCompareParses() async throws {
        // A 2 ms delivery-coalescing window (the default is 0.1 ms): every phase still completes.
        let phases = ["--messages", "500", "--size", "200", "--confirm-window", "50", "--name", "t"]
        let (status, lines) = try await Self.bench(phases + ["--delivery-coalescing", "2000"], queue: "phases")
        #expect(status == 0, "\(lines)")
        for phase in ["publish", "consume", "confirmed-publish"] {
            #expect(Self.rate(lines, name: "t", phase: phase) != nil, "no \(phase) line in \(lines)")
            #expect(lines.contains { $0.hasPrefix("t \(phase): ") && $0.hasSuffix("us CPU/msg (client process)") })
        }
    }

    @Test func aLongPhasePrintsProgressOnStandardError() async throws {
        // Phases of 30000 messages take a few tenths of a second each: longer than --progress 0.1.
        let (status, lines) = try await Self.bench(
            ["--messages", "30000", "--size", "10", "--progress", "0.1", "--name", "p"], queue: "progress")
        #expect(status == 0, "\(lines)")
        let progress = lines.filter { $0.hasPrefix("p ") && $0.contains("/30000 messages after ") }
        #expect(!progress.isEmpty, "no progress line in \(lines)")
        // Progress lines are not result lines: compare still finds exactly one per phase.
        for phase in ["publish", "consume", "confirmed-publish"] {
            #expect(lines.filter { $0.hasPrefix("p \(phase) ") && $0.hasSuffix(" msg/s") }.count == 1, "\(lines)")
        }
    }

    @Test func largeMessagesSpanSeveralFrames() async throws {
        // 300 KiB bodies: three body frames each, referenced rather than copied on the way out.
        let (status, lines) = try await Self.bench(
            ["--messages", "20", "--size", "307200", "--confirm-window", "5"], queue: "large")
        #expect(status == 0, "\(lines)")
        #expect(Self.rate(lines, name: "amqpwire", phase: "confirmed-publish") != nil, "\(lines)")
    }

    @Test func loadModeRunsProducersAndConsumersTogether() async throws {
        let (status, lines) = try await Self.bench(
            ["--duration", "1", "--producers", "2", "--consumers", "2", "--size", "64"], queue: "load")
        #expect(status == 0, "\(lines)")
        for word in ["published", "confirmed", "consumed"] {
            #expect(lines.contains { $0.hasPrefix("amqpwire \(word) ") }, "no '\(word)' line in \(lines)")
        }
    }

    @Test(arguments: [
        (["--messages", "0"], "--messages"),
        (["--size", "big"], "--size"),
        (["--prefetch", "70000"], "--prefetch"),
        (["--confirm-window"], "--confirm-window needs a value"),
        (["--uri", "http://example.com/"], "--uri"),
        (["--fast"], "--fast"),
        (["--progress", "0"], "--progress"),
        (["--delivery-coalescing", "10001"], "--delivery-coalescing"),
    ])
    func badArgumentsExitTwoNamingTheFlag(arguments: [String], mentions: String) async throws {
        let (status, lines) = try await Self.run(try ChildProcess.product("amqp-bench"), arguments)
        #expect(status == 2, "\(arguments): \(lines)")
        #expect(lines.contains { $0.hasPrefix("amqp-bench: ") && $0.contains(mentions) }, "\(arguments): \(lines)")
    }

    @Test func clientBenchRunsEveryPhaseAgainstItsLoopbackServer() async throws {
        // Small bodies, and bodies of several frames each, which once stalled the scripted server.
        for (messages, size) in [("3000", "100"), ("40", "300000")] {
            let (status, lines) = try await Self.run(
                try ChildProcess.product("amqp-client-bench"),
                ["--messages", messages, "--size", size, "--rounds", "1"])
            #expect(status == 0, "\(lines)")
            for phase in ["consume", "publish", "confirmed-publish"] {
                #expect(
                    lines.contains { $0.hasPrefix("\(phase) ") && $0.contains(" us client CPU/msg") },
                    "no \(phase) line in \(lines)")
            }
        }
        let (status, lines) = try await Self.run(try ChildProcess.product("amqp-client-bench"), ["--rounds", "0"])
        #expect(status == 1 && lines.contains { $0.contains("--rounds needs a whole number") }, "\(lines)")
    }

    @Test func ceilingClientRunsThePhases() async throws {
        let script = ChildProcess.repository.appendingPathComponent("scripts/bench-ceiling.py").path
        // One frame per body, and bodies over several frames (the consume phase counts bytes).
        for (messages, size) in [("2000", "100"), ("100", "300000")] {
            let (status, lines) = try await Self.run(
                "/usr/bin/python3",
                [
                    script, "--messages", messages, "--size", size, "--confirm-window", "7", "--queue",
                    Self.unique("ceiling"),
                ])
            #expect(status == 0, "\(lines)")
            for phase in ["publish", "consume", "confirmed-publish"] {
                #expect(Self.rate(lines, name: "ceiling", phase: phase) != nil, "no \(phase) line in \(lines)")
            }
        }
    }
}
