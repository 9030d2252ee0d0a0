import Foundation
import Observability
import Synchronization
import Testing

final class CapturingLogHandler: LogHandler {
    let records = Mutex<[LogRecord]>([])
    func write(_ record: LogRecord) { records.withLock { $0.append(record) } }
}

@Suite struct LoggerTests {
    @Test func recordsBelowTheLevelAreNotBuilt() {
        let capture = CapturingLogHandler()
        var log = Logger(label: "test", level: .warning, handler: capture)
        log[metadata: "service"] = "email"
        var built = false
        log.info(
            {
                built = true
                return "ignored"
            }())
        log.error("failed", metadata: ["id": "42"])
        #expect(!built)
        let records = capture.records.withLock { $0 }
        #expect(records.count == 1)
        #expect(records.first?.metadata == ["service": "email", "id": "42"])
    }

    @Test func aLineCannotBeForgedWithNewlines() {
        let record = LogRecord(
            time: Date(timeIntervalSince1970: 0), level: .info, label: "web",
            message: "subject\nERROR fake", metadata: ["to": "a b\r\nc"])
        #expect(LogFormat.line(for: record) == #"1970-01-01T00:00:00.000Z info web: subject\nERROR fake to="a b\r\nc""#)
    }

    @Test func levelNamesParse() {
        #expect(LogLevel(name: "WARN") == .warning)
        #expect(LogLevel(name: "debug") == .debug)
        #expect(LogLevel(name: "loud") == nil)
    }
}

@Suite struct MetricsTests {
    @Test func prometheusTextHasHelpTypeAndSortedLabels() {
        let metrics = MetricsRegistry()
        metrics.counter("emails_total", help: "Emails", labels: ["outcome": "sent", "b": "x\"y"]).increment()
        metrics.counter("emails_total", help: "Emails", labels: ["b": "x\"y", "outcome": "sent"]).increment(by: 2)
        metrics.gauge("inflight", help: "In flight").set(3)
        #expect(
            metrics.prometheusText() == """
                # HELP emails_total Emails
                # TYPE emails_total counter
                emails_total{b="x\\"y",outcome="sent"} 3
                # HELP inflight In flight
                # TYPE inflight gauge
                inflight 3

                """)
    }

    @Test func histogramBucketsAreCumulative() {
        let metrics = MetricsRegistry()
        let histogram = metrics.histogram("duration_seconds", help: "D", labels: ["h": "x"], buckets: [0.1, 1])
        histogram.observe(0.05)
        histogram.observe(0.5)
        histogram.observe(3)
        let text = metrics.prometheusText()
        #expect(text.contains(#"duration_seconds_bucket{h="x",le="0.1"} 1"#))
        #expect(text.contains(#"duration_seconds_bucket{h="x",le="1"} 2"#))
        #expect(text.contains(#"duration_seconds_bucket{h="x",le="+Inf"} 3"#))
        #expect(text.contains(#"duration_seconds_sum{h="x"} 3.55"#))
        #expect(text.contains(#"duration_seconds_count{h="x"} 3"#))
    }

    @Test func aNameReusedWithAnotherTypeDoesNotCorruptTheOutput() {
        let metrics = MetricsRegistry()
        metrics.counter("x", help: "X").increment()
        metrics.gauge("x", help: "X").set(10)
        #expect(metrics.prometheusText().contains("x 1\n"))
        #expect(!metrics.prometheusText().contains("x 10"))
    }
}
