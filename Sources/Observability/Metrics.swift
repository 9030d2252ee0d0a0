import Foundation
import Synchronization

/// Counters, gauges and histograms, readable as Prometheus text (`/metrics`).
///
/// Metrics are identified by name and labels; asking twice for the same pair returns the same
/// metric, so call sites can look them up where they use them. Updates take a short lock.
///
/// ```swift
/// let metrics = MetricsRegistry()
/// metrics.counter("emails_sent_total", help: "Emails delivered", labels: ["transport": "smtp"]).increment()
/// print(metrics.prometheusText())
/// ```
public final class MetricsRegistry: Sendable {
    private struct Family {
        var help: String
        var type: String
        var members: [String: any PrometheusSample] = [:]
    }

    private let families = Mutex<[String: Family]>([:])

    public init() {}

    /// The counter named `name` with `labels`, created on first use.
    public func counter(_ name: String, help: String, labels: [String: String] = [:]) -> Counter {
        member(name, help: help, type: "counter", labels: labels) { Counter() }
    }

    /// The gauge named `name` with `labels`, created on first use.
    public func gauge(_ name: String, help: String, labels: [String: String] = [:]) -> Gauge {
        member(name, help: help, type: "gauge", labels: labels) { Gauge() }
    }

    /// The histogram named `name` with `labels`, created on first use with `buckets` (upper
    /// bounds, in the unit the caller observes; seconds by convention).
    public func histogram(
        _ name: String, help: String, labels: [String: String] = [:],
        buckets: [Double] = Histogram.defaultBuckets
    ) -> Histogram {
        member(name, help: help, type: "histogram", labels: labels) { Histogram(buckets: buckets) }
    }

    private func member<M: PrometheusSample>(
        _ name: String, help: String, type: String, labels: [String: String], make: () -> M
    ) -> M {
        let key = Self.labelText(labels)
        return families.withLock { families in
            var family = families[name] ?? Family(help: help, type: type)
            // A name registered as another type keeps its first type; the caller gets a
            // detached metric rather than a crash or a corrupt exposition.
            guard family.type == type else { return make() }
            if let existing = family.members[key] as? M { return existing }
            let created = make()
            family.members[key] = created
            families[name] = family
            return created
        }
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4), sorted by name.
    public func prometheusText() -> String {
        let snapshot = families.withLock { $0 }
        var out = ""
        for name in snapshot.keys.sorted() {
            guard let family = snapshot[name] else { continue }
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n# TYPE \(name) \(family.type)\n"
            for key in family.members.keys.sorted() {
                family.members[key]?.appendSamples(name: name, labels: key, to: &out)
            }
        }
        return out
    }

    /// `{a="1",b="2"}` with keys sorted and values escaped; empty for no labels.
    static func labelText(_ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return "" }
        let pairs = labels.keys.sorted().map { key in
            let value = (labels[key] ?? "")
                .replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(key)=\"\(value)\""
        }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    private static func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

protocol PrometheusSample: Sendable {
    func appendSamples(name: String, labels: String, to out: inout String)
}

/// A value that only goes up.
public final class Counter: PrometheusSample {
    private let value = Mutex<Double>(0)

    public func increment(by amount: Double = 1) {
        guard amount >= 0 else { return }
        value.withLock { $0 += amount }
    }

    public var current: Double { value.withLock { $0 } }

    func appendSamples(name: String, labels: String, to out: inout String) {
        out += "\(name)\(labels) \(formatSample(current))\n"
    }
}

/// A value that goes up and down.
public final class Gauge: PrometheusSample {
    private let value = Mutex<Double>(0)

    public func set(_ newValue: Double) { value.withLock { $0 = newValue } }
    public func add(_ amount: Double) { value.withLock { $0 += amount } }
    public var current: Double { value.withLock { $0 } }

    func appendSamples(name: String, labels: String, to out: inout String) {
        out += "\(name)\(labels) \(formatSample(current))\n"
    }
}

/// Observations counted into cumulative buckets, with their sum and count.
public final class Histogram: PrometheusSample {
    /// 1 ms to 10 s, for handler and request durations in seconds.
    public static let defaultBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct State {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    public let buckets: [Double]
    private let state: Mutex<State>

    init(buckets: [Double]) {
        let sorted = buckets.filter { $0.isFinite }.sorted()
        self.buckets = sorted
        self.state = Mutex(State(counts: Array(repeating: 0, count: sorted.count)))
    }

    public func observe(_ value: Double) {
        let index = buckets.firstIndex { value <= $0 }
        state.withLock { state in
            if let index { state.counts[index] += 1 }
            state.sum += value
            state.count += 1
        }
    }

    /// Observes the time `body` takes, in seconds.
    public func time<T>(_ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { observe((ContinuousClock.now - start).seconds) }
        return try await body()
    }

    public var count: UInt64 { state.withLock { $0.count } }

    func appendSamples(name: String, labels: String, to out: inout String) {
        let snapshot = state.withLock { $0 }
        let inner = labels.isEmpty ? "" : String(labels.dropFirst().dropLast()) + ","
        var cumulative: UInt64 = 0
        for (bound, count) in zip(buckets, snapshot.counts) {
            cumulative += count
            out += "\(name)_bucket{\(inner)le=\"\(formatSample(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(inner)le=\"+Inf\"} \(snapshot.count)\n"
        out += "\(name)_sum\(labels) \(formatSample(snapshot.sum))\n"
        out += "\(name)_count\(labels) \(snapshot.count)\n"
    }
}

extension Duration {
    /// The duration in seconds, as a Double (for histograms).
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

func formatSample(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}
