/// Identifies one request the application is waiting on; the shell maps it to the waiter.
typealias RequestID = UInt64

/// What the state machines ask the shell (the socket and the waiters) to do. They append these to
/// an array the shell owns and reuses, so a frame costs no allocation for its actions.
enum ConnectionAction: Sendable {
    /// Write the AMQP protocol header (the first bytes of a connection).
    case sendProtocolHeader
    case sendMethod(channel: UInt16, AMQPMethod)
    case sendHeartbeat

    /// The handshake finished: the connection is open with these parameters.
    case handshakeCompleted(TuneParameters, serverProperties: FieldTable)
    /// Publishing on every channel must pause (`connection.blocked`) or may go on.
    case blocked(reason: String)
    case unblocked
    /// Close the socket (after writing what is queued) and fail everything still waiting with the
    /// error; nil when the application closed the connection cleanly.
    case closeConnection(AMQPError?)

    /// The answer to a request.
    case succeed(RequestID, ChannelReply)
    case fail(RequestID, AMQPError)

    /// The channel is closed: end its consumers and fail its unconfirmed publishes. Nil when the
    /// application closed it.
    case channelClosed(channel: UInt16, AMQPError?)
    /// The channel ended because its connection failed: it may be recovered on a new connection.
    case channelLost(channel: UInt16, AMQPError)
    case deliver(channel: UInt16, ContentAssembler.Message)
    case returned(channel: UInt16, ContentAssembler.Message)
    /// The broker acked or nacked publishes in confirm mode.
    case confirm(channel: UInt16, deliveryTag: UInt64, multiple: Bool, ack: Bool)
    /// The broker cancelled a consumer (`basic.cancel` from the server).
    case consumerCancelled(channel: UInt16, consumerTag: String)
    /// The broker asked to pause (false) or resume (true) publishing on the channel.
    case flow(channel: UInt16, active: Bool)
}

/// The answer to a synchronous request.
enum ChannelReply: Sendable {
    case method(AMQPMethod)
    /// `basic.get-ok` with its message.
    case message(ContentAssembler.Message)
}
