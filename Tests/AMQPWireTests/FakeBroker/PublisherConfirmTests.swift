import Testing

@testable import AMQPWire

/// Publisher confirms: numbering, acks and nacks, the window, and a channel that ends first.
@Suite(.timeLimit(.minutes(1)))
struct PublisherConfirmTests {
    /// Opens channel 1 and puts it in confirm mode.
    private func confirmingChannel(
        _ broker: FakeBroker, _ connection: AMQPConnection, window: Int = 1000
    ) async throws -> AMQPChannel {
        let channel = try await broker.openChannel(1, on: connection)
        let selecting = Task { try await channel.enablePublisherConfirms(window: window) }
        #expect(try await broker.expectMethod(channel: 1) == .confirm(.select(.init())))
        try await broker.send(method: .confirm(.selectOk(.init())), channel: 1)
        try await within("enablePublisherConfirms") { try await selecting.value }
        return channel
    }

    /// Publishes `count` messages and reads them on the broker's side.
    private func publish(
        _ count: Int, on channel: AMQPChannel, _ broker: FakeBroker
    ) async throws -> [PublishConfirmation] {
        var confirmations: [PublishConfirmation] = []
        for index in 0..<count {
            confirmations.append(try await channel.publish("message \(index)", routingKey: "q"))
            _ = try await broker.expectContent(channel: 1)
        }
        return confirmations
    }

    /// How `confirmation` resolved: nil when it succeeded, else the error's code.
    private func outcome(_ confirmation: PublishConfirmation) async throws -> AMQPError.Code? {
        let result = try await within("confirmation \(confirmation.sequenceNumber)") {
            () async -> Result<Void, AMQPError> in
            do {
                try await confirmation.wait()
                return .success(())
            } catch let error as AMQPError {
                return .failure(error)
            } catch {
                return .failure(AMQPError(.protocolError, "not an AMQPError: \(error)"))
            }
        }
        if case .failure(let error) = result { return error.code }
        return nil
    }

    @Test func publishesAreNumberedFromOne() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection)
            let confirmations = try await publish(3, on: channel, broker)
            #expect(confirmations.map(\.sequenceNumber) == [1, 2, 3])
        }
    }

    @Test func acksAndNacksResolveTheirPublishes() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection)
            let confirmations = try await publish(5, on: channel, broker)
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 1))), channel: 1)
            try await broker.send(method: .basic(.nack(.init(deliveryTag: 2, requeue: true))), channel: 1)
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 4, multiple: true))), channel: 1)
            try await broker.send(method: .basic(.nack(.init(deliveryTag: 5, multiple: true))), channel: 1)
            var outcomes: [AMQPError.Code?] = []
            for confirmation in confirmations { outcomes.append(try await outcome(confirmation)) }
            #expect(outcomes == [nil, .publishNacked, nil, nil, .publishNacked])
        }
    }

    @Test func multipleNackRejectsEveryPublishUpToItsTag() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection)
            let confirmations = try await publish(3, on: channel, broker)
            try await broker.send(method: .basic(.nack(.init(deliveryTag: 2, multiple: true))), channel: 1)
            #expect(try await outcome(confirmations[0]) == .publishNacked)
            #expect(try await outcome(confirmations[1]) == .publishNacked)
            #expect(confirmations[2].result == nil)
        }
    }

    @Test func publishBeyondTheWindowWaitsForAConfirm() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection, window: 2)
            _ = try await publish(2, on: channel, broker)
            let third = Task { try await channel.publish("third", routingKey: "q") }
            try await eventually("the third publish waits for the window") { connection.waitingPublishers == 1 }
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 1))), channel: 1)
            let content = try await broker.expectContent(channel: 1)
            #expect(content.body == Array("third".utf8))
            #expect(try await within("the third publish") { try await third.value }.sequenceNumber == 3)
        }
    }

    /// A publisher waiting on a full window is released once a quarter of it is free, also when
    /// confirms come one at a time (a fixture: waking only on a confirm that found the window full
    /// left it waiting forever after the first one).
    @Test func singleConfirmsReleaseAPublisherWaitingOnAFullWindow() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection, window: 8)
            _ = try await publish(8, on: channel, broker)
            let ninth = Task { try await channel.publish("ninth", routingKey: "q") }
            try await eventually("the ninth publish waits for the window") { connection.waitingPublishers == 1 }
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 1))), channel: 1)
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 2))), channel: 1)
            #expect(try await broker.expectContent(channel: 1).body == Array("ninth".utf8))
            #expect(try await within("the ninth publish") { try await ninth.value }.sequenceNumber == 9)
        }
    }

    @Test func channelClosedByBrokerLeavesOutstandingConfirmsUnknown() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await confirmingChannel(broker, connection)
            let confirmations = try await publish(2, on: channel, broker)
            try await broker.send(method: .basic(.ack(.init(deliveryTag: 1))), channel: 1)
            try await broker.send(
                method: .channel(
                    .close(.init(replyCode: 404, replyText: "NOT_FOUND - no exchange 'x'", classID: 60, methodID: 40))),
                channel: 1)
            #expect(try await outcome(confirmations[0]) == nil)
            #expect(try await outcome(confirmations[1]) == .confirmOutcomeUnknown)
            #expect(try await broker.expectMethod(channel: 1) == .channel(.closeOk(.init())))
        }
    }
}
