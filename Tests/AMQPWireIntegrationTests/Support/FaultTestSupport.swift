import AMQPWire
import Foundation
import Synchronization
import Testing

/// Runs `body` and returns its result, or throws `DeadlineExceeded` once `limit` has passed: a hang
/// fails the test with a name instead of hanging the run. On time-out the body is cancelled but not
/// waited for, so even a wait that ignores cancellation cannot hold the test.
func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    let description = what()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation, limit: limit, description: description, body)
        }
    } onCancel: {
        race.cancel()
    }
}

/// The state `withDeadline` shares between its body and its timer: whichever finishes first
/// resumes the caller.
private final class DeadlineRace<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, work: Task<Void, Never>?)>((nil, nil))

    func start(
        _ continuation: CheckedContinuation<T, any Error>, limit: Duration, description: String,
        _ body: @escaping @Sendable () async throws -> T
    ) {
        state.withLock { $0.continuation = continuation }
        let timer = Task {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled else { return }
            self.finish(.failure(DeadlineExceeded(what: description, limit: limit)))
        }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            timer.cancel()
            self.finish(result)
        }
        state.withLock { $0.work = work }
    }

    func cancel() { state.withLock { $0.work }?.cancel() }

    private func finish(_ result: Result<T, any Error>) {
        let (continuation, work) = state.withLock { s in
            defer { s.continuation = nil }
            return (s.continuation, s.work)
        }
        guard let continuation else { return }
        if case .failure(let error) = result, error is DeadlineExceeded { work?.cancel() }
        continuation.resume(with: result)
    }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var limit: Duration
    var description: String { "\(what) did not finish within \(limit): a hang" }
}

/// Polls `condition` every 10 ms until it holds; throws `DeadlineExceeded` after `limit`.
func waitUntil(
    _ limit: Duration, _ what: @autoclosure () -> String, _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw DeadlineExceeded(what: what(), limit: limit) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A figure for the issue note: printed as `[figures] name: value` so that scripts/test.sh's output
/// can be searched for them.
func reportFigure(_ name: String, _ value: String) {
    print("[figures] \(name): \(value)")
}

extension Duration {
    /// Seconds with millisecond precision, for figures: "1.234 s".
    var seconds: String {
        let ms = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        return String(format: "%.3f s", ms / 1000)
    }
}

/// A connection's events as they happen, with the time of each: to wait for a recovery and to measure
/// how long it took. Follows the connection until its events end.
final class ConnectionEventLog: Sendable {
    struct Entry: Sendable {
        var event: AMQPConnectionEvent
        var at: ContinuousClock.Instant
    }

    private let entries = Mutex<[Entry]>([])

    /// Follows the connection's events until they end (the connection closes for good).
    init(_ connection: AMQPConnection) {
        let events = connection.events()
        Task { [self] in
            for await event in events {
                entries.withLock { $0.append(Entry(event: event, at: .now)) }
            }
        }
    }

    var all: [Entry] { entries.withLock { $0 } }

    /// How many `.recovering` / `.recovered` / `.recoveryFailed` events so far.
    var recoveringCount: Int { count { if case .recovering = $0 { true } else { false } } }
    var recoveredCount: Int { count { if case .recovered = $0 { true } else { false } } }
    var recoveryFailures: [AMQPError] {
        all.compactMap { if case .recoveryFailed(let error) = $0.event { error } else { nil } }
    }

    /// How long each recovery took, from the failure to `.recovered`, as the connection measured it.
    var recoveryDurations: [Duration] {
        all.compactMap { if case .recovered(_, let duration) = $0.event { duration } else { nil } }
    }

    /// How many attempts each recovery took.
    var recoveryAttempts: [Int] {
        all.compactMap { if case .recovered(let attempts, _) = $0.event { attempts } else { nil } }
    }

    /// The `.recovering` causes, in order.
    var recoveringCauses: [AMQPError] {
        all.compactMap { if case .recovering(let error) = $0.event { error } else { nil } }
    }

    /// When the `n`th (from 1) `.recovered` event came.
    func recoveredAt(_ n: Int) -> ContinuousClock.Instant? {
        let times = all.filter { if case .recovered = $0.event { true } else { false } }.map(\.at)
        return times.count >= n ? times[n - 1] : nil
    }

    /// Waits until `count` `.recovered` events have come; throws on `.recoveryFailed` or after `limit`.
    func waitForRecovered(count: Int, within limit: Duration) async throws {
        try await waitUntil(limit, "recovery number \(count)") {
            if let failure = recoveryFailures.first { throw failure }
            return recoveredCount >= count
        }
    }

    private func count(_ matches: (AMQPConnectionEvent) -> Bool) -> Int {
        entries.withLock { $0.filter { matches($0.event) }.count }
    }
}

/// What happened to every message id of a fault test: published, confirmed, outcome unknown, consumed
/// (how often). The checks the issue asks for are on it: no confirmed id missing from the consumed
/// ones, duplicates counted.
final class MessageLedger: Sendable {
    private struct State {
        var published = 0
        var confirmed: Set<Int> = []
        var unknown: Set<Int> = []
        var nacked: Set<Int> = []
        var otherFailures: [Int: String] = [:]
        var consumed: [Int: Int] = [:]
        var staleAcks = 0
        var consumedAt: [ContinuousClock.Instant] = []
    }

    private let state = Mutex(State())

    func published(_ id: Int) { state.withLock { $0.published += 1 } }

    /// Records the outcome of a publish confirmation.
    func outcome(_ id: Int, _ result: Result<Void, any Error>) {
        state.withLock { s in
            switch result {
            case .success:
                s.confirmed.insert(id)
            case .failure(let error as AMQPError) where error.code == .confirmOutcomeUnknown:
                s.unknown.insert(id)
            case .failure(let error as AMQPError) where error.code == .publishNacked:
                s.nacked.insert(id)
            case .failure(let error):
                s.otherFailures[id] = "\(error)"
            }
        }
    }

    func consumed(_ id: Int) {
        state.withLock { s in
            s.consumed[id, default: 0] += 1
            s.consumedAt.append(.now)
        }
    }

    func staleAck() { state.withLock { $0.staleAcks += 1 } }

    var publishedCount: Int { state.withLock { $0.published } }
    var confirmed: Set<Int> { state.withLock { $0.confirmed } }
    var unknown: Set<Int> { state.withLock { $0.unknown } }
    /// Ids the broker nacked (at least once).
    var nacked: Set<Int> { state.withLock { $0.nacked } }
    /// Ids whose publish failed with anything but `confirmOutcomeUnknown` or a nack, with the error.
    var otherFailures: [Int: String] { state.withLock { $0.otherFailures } }
    var consumedIDs: Set<Int> { state.withLock { Set($0.consumed.keys) } }
    var consumedCount: Int { state.withLock { $0.consumed.values.reduce(0, +) } }
    /// Deliveries beyond the first of each id.
    var duplicates: Int { state.withLock { $0.consumed.values.reduce(0) { $0 + $1 - 1 } } }
    var staleAcks: Int { state.withLock { $0.staleAcks } }
    /// When the first delivery after `instant` came.
    func firstConsumed(after instant: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        state.withLock { $0.consumedAt.first { $0 > instant } }
    }

    func timesConsumed(_ id: Int) -> Int { state.withLock { $0.consumed[id] ?? 0 } }

    /// Confirmed ids never consumed: must stay empty.
    var lostConfirmed: Set<Int> { state.withLock { $0.confirmed.subtracting($0.consumed.keys) } }

    /// Prints the ledger's figures under `label`.
    func report(_ label: String) {
        let s = state.withLock { $0 }
        let consumedUnique = s.consumed.count
        let duplicates = s.consumed.values.reduce(0) { $0 + $1 - 1 }
        reportFigure(
            label,
            "published \(s.published), confirmed \(s.confirmed.count), outcome unknown \(s.unknown.count), "
                + "nacked \(s.nacked.count), other failures \(s.otherFailures.count); consumed \(consumedUnique) distinct ids "
                + "(\(consumedUnique + duplicates) deliveries, \(duplicates) duplicates), "
                + "confirmed but not consumed \(s.confirmed.subtracting(s.consumed.keys).count), "
                + "acks refused as stale \(s.staleAcks)")
    }
}

/// A consumer loop for fault tests: records every delivery's id (its body) in the ledger and acks it;
/// an ack refused as stale (its connection died) is counted, the broker delivers the message again.
/// Runs until the consumer's sequence ends; its error, if any, is in `failure`.
final class LedgerConsumer: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let outcome = Mutex<(ended: Bool, error: (any Error)?)>((false, nil))

    init(_ consumer: AMQPConsumer, ledger: MessageLedger) {
        let task = Task { [self] in
            var failure: (any Error)?
            do {
                for try await delivery in consumer {
                    guard let id = Int(delivery.bodyString) else {
                        Issue.record("a delivery that is no message id: \(delivery.bodyString)")
                        continue
                    }
                    ledger.consumed(id)
                    do {
                        try delivery.ack()
                    } catch let error as AMQPError where error.code == .staleDeliveryTag {
                        ledger.staleAck()
                    }
                }
            } catch {
                failure = error
            }
            outcome.withLock { $0 = (true, failure) }
        }
        self.task.withLock { $0 = task }
    }

    /// The error that ended the sequence (`CancellationError` after `stop()`).
    var failure: (any Error)? { outcome.withLock { $0.error } }
    var hasEnded: Bool { outcome.withLock { $0.ended } }

    func stop() { task.withLock { $0 }?.cancel() }
}

/// Persistent delivery for messages that must survive a broker restart.
let persistentMessage: BasicProperties = {
    var properties = BasicProperties()
    properties.deliveryMode = 2
    return properties
}()

/// Runs `body`, then `cleanup` whether or not `body` threw: a `defer` that can await. For undoing
/// what a fault test broke (a stopped or killed node) even when the test fails.
func withCleanup<R>(_ body: () async throws -> R, cleanup: () async -> Void) async throws -> R {
    let result: R
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}

/// A publisher for fault tests: publishes numbered messages (the id is the body) in batches on a
/// channel of its own in confirm mode, waits for each batch's confirms, and records every outcome in
/// the ledger, until stopped. A batch keeps publishes in flight most of the time, so a fault nearly
/// always finds some unconfirmed.
///
/// With `atLeastOnce`, a message whose outcome is unknown or that the broker nacked is published
/// again until confirmed, as an application that must not lose messages does. After a nack it
/// also moves to a new channel: RabbitMQ 3.10 nacks every later publish on a channel whose first
/// publishes to a quorum queue reached a node before the queue had elected a new leader (a channel
/// opened later publishes fine).
final class LedgerPublisher: Sendable {
    private struct State {
        var stop = false
        var ended = false
        var error: (any Error)?
        var republished = 0
        var channelsReopened = 0
    }

    private let state = Mutex(State())

    init(
        _ connection: AMQPConnection, queue: String, ledger: MessageLedger, batch: Int = 50,
        properties: BasicProperties = persistentMessage, atLeastOnce: Bool = false
    ) {
        Task { [self] in
            var next = 0
            var retry: [Int] = []
            do {
                var channel = try await connection.openChannel()
                try await channel.enablePublisherConfirms()
                while !state.withLock({ $0.stop }) || !retry.isEmpty {
                    var ids = retry
                    retry = []
                    let stopping = state.withLock { $0.stop }
                    while !stopping && ids.count < batch {
                        ids.append(next)
                        next += 1
                    }
                    var pending: [(Int, PublishConfirmation)] = []
                    for id in ids {
                        ledger.published(id)
                        pending.append(
                            (id, try await channel.publish(String(id), routingKey: queue, properties: properties)))
                    }
                    var nacked = false
                    for (id, confirmation) in pending {
                        do {
                            try await confirmation.wait()
                            ledger.outcome(id, .success(()))
                        } catch {
                            ledger.outcome(id, .failure(error))
                            let code = (error as? AMQPError)?.code
                            nacked = nacked || code == .publishNacked
                            if atLeastOnce && (code == .confirmOutcomeUnknown || code == .publishNacked) {
                                retry.append(id)
                            }
                        }
                    }
                    state.withLock { $0.republished += retry.count }
                    if atLeastOnce && nacked {
                        try? await channel.close()
                        channel = try await connection.openChannel()
                        try await channel.enablePublisherConfirms()
                        state.withLock { $0.channelsReopened += 1 }
                    }
                }
            } catch {
                state.withLock { $0.error = error }
            }
            state.withLock { $0.ended = true }
        }
    }

    /// Stops after the batch under way (and, with `atLeastOnce`, once nothing waits to be published
    /// again) and waits until the outcomes are in.
    func stop(within limit: Duration = .seconds(30)) async throws {
        state.withLock { $0.stop = true }
        try await waitUntil(limit, "the publisher to stop") { state.withLock { $0.ended } }
    }

    /// What ended the publishing loop other than `stop()` (a publish that threw).
    var failure: (any Error)? { state.withLock { $0.error } }
    /// Publishes made again after an unknown outcome or a nack.
    var republished: Int { state.withLock { $0.republished } }
    /// Channels replaced after a nack.
    var channelsReopened: Int { state.withLock { $0.channelsReopened } }
}
