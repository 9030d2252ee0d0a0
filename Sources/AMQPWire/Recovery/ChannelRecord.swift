import Synchronization

/// What outlives a channel's socket: the identity behind an ``AMQPChannel``, its current channel
/// on the current connection (none while recovering), its settings to restore, its consumers and
/// its returned-message subscribers.
final class ChannelRecord: Sendable {
    enum Current {
        case open(ChannelHandle)
        case suspended
        case closed(AMQPError)
    }

    struct Consumer: Sendable {
        var recorded: RecordedConsumer
        var buffer: DeliveryBuffer
    }

    struct Settings: Sendable {
        /// basic.qos as last set, per-consumer (global false) and channel-wide (global true).
        var prefetch: [Bool: UInt16] = [:]
        var confirmWindow: Int?
        var transactional = false
    }

    private struct State: Sendable {
        var handle: ChannelHandle?
        /// Delivery tags the application saw on earlier connections: the broker numbers from 1
        /// again after recovery, so tags are shifted by this and stay unique (as the Java client does).
        var tagOffset: UInt64 = 0
        /// Set once the channel is closed for good; nil inside means closed by the application.
        var closed: AMQPError??
        /// The channel id it last had, for messages.
        var lastID: UInt16 = 0
        var settings = Settings()
        /// In start order.
        var consumers: [Consumer] = []
    }

    /// Creation order, so recovery reopens channels in the order the application opened them.
    let number: Int
    let returns = Broadcast<AMQPReturnedMessage>(capacity: 256)
    let returnHandler = Mutex<(@Sendable (AMQPReturnedMessage) -> Void)?>(nil)
    private let state = Mutex(State())

    init(number: Int) { self.number = number }

    var current: Current {
        state.withLock { s in
            if s.closed != nil { return .closed(Self.closedError(s, channel: s.lastID)) }
            return s.handle.map(Current.open) ?? .suspended
        }
    }

    /// The handle, if the channel is open now (the publish fast path).
    var openHandle: ChannelHandle? { state.withLock { s in s.closed == nil ? s.handle : nil } }

    var isClosed: Bool { state.withLock { $0.closed != nil } }

    func attach(_ handle: ChannelHandle) {
        state.withLock { s in
            s.handle = handle
            s.lastID = handle.id
        }
    }

    /// The connection failed and will recover: calls wait until ``attach(_:)``.
    func suspend() { state.withLock { $0.handle = nil } }

    /// The offset a channel opened now gives its delivery tags.
    var tagOffset: UInt64 { state.withLock { $0.tagOffset } }

    /// The channel lost its connection after the broker gave out tags up to `highestTag`.
    func advanceTagOffset(past highestTag: UInt64) {
        state.withLock { s in s.tagOffset = max(s.tagOffset, highestTag) }
    }

    /// Closed for good (by the application, the broker, or a failure without recovery).
    func markClosed(_ error: AMQPError?) {
        state.withLock { s in if s.closed == nil { s.closed = .some(error) } }
    }

    /// Why the channel is gone, for a call on one of its handles.
    func closedError(channel id: UInt16) -> AMQPError {
        state.withLock { Self.closedError($0, channel: id) }
    }

    private static func closedError(_ s: State, channel id: UInt16) -> AMQPError {
        guard case .some(.some(var error)) = s.closed else {
            return AMQPError(.channelClosed, "channel \(id) is closed", channel: id)
        }
        if !error.message.hasPrefix("channel \(id) is closed") {
            error.message = "channel \(id) is closed: \(error.message)"
        }
        return error
    }

    // MARK: What recovery restores

    var settings: Settings { state.withLock { $0.settings } }
    func updateSettings(_ body: (inout Settings) -> Void) { state.withLock { body(&$0.settings) } }

    var consumers: [Consumer] { state.withLock { $0.consumers } }

    func addConsumer(_ consumer: Consumer) {
        state.withLock { s in
            s.consumers.removeAll { $0.recorded.tag == consumer.recorded.tag }
            s.consumers.append(consumer)
        }
    }

    @discardableResult
    func removeConsumer(tag: String) -> Consumer? {
        state.withLock { s in
            guard let i = s.consumers.firstIndex(where: { $0.recorded.tag == tag }) else { return nil }
            return s.consumers.remove(at: i)
        }
    }

    /// A server-named queue came back under a new name: consumers on it follow.
    func renameQueue(_ old: String, to new: String) {
        state.withLock { s in
            for i in s.consumers.indices where s.consumers[i].recorded.queue == old {
                s.consumers[i].recorded.queue = new
            }
        }
    }

    /// Ends what hangs off the channel, once it is closed for good.
    func finish(_ error: AMQPError?) {
        let consumers = state.withLock { s in
            defer { s.consumers = [] }
            return s.consumers
        }
        for consumer in consumers { consumer.buffer.finish(error) }
        returns.finish()
    }
}
