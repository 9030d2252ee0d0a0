import AMQPWire

/// Frames written out by hand from the AMQP 0-9-1 specification (section 4.2 and the class
/// reference) and RabbitMQ's field-table errata, with the value each must decode to.
struct CodecFixture: Sendable, CustomStringConvertible {
    var name: String
    var bytes: [UInt8]
    var frame: AMQPFrame
    var description: String { name }

    static let all: [CodecFixture] = [
        heartbeat, tuneOk, publishMandatory, ackMultiple, queueDeclare, deliver, contentHeader, confirmSelect,
    ]

    static let heartbeat = CodecFixture(
        name: "heartbeat",
        bytes: [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCE],
        frame: .heartbeat)

    static let tuneOk = CodecFixture(
        name: "connection.tune-ok",
        bytes: [
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C,  // method, channel 0, 12-byte payload
            0x00, 0x0A, 0x00, 0x1F,  // class 10, method 31
            0x07, 0xFF,  // channel-max 2047
            0x00, 0x02, 0x00, 0x00,  // frame-max 131072
            0x00, 0x3C,  // heartbeat 60
            0xCE,
        ],
        frame: .method(
            channel: 0, .connection(.tuneOk(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)))))

    static let publishMandatory = CodecFixture(
        name: "basic.publish mandatory",
        bytes: [
            0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0D,  // method, channel 1, 13-byte payload
            0x00, 0x3C, 0x00, 0x28,  // class 60, method 40
            0x00, 0x00,  // reserved-1
            0x02, 0x65, 0x78,  // exchange "ex"
            0x02, 0x72, 0x6B,  // routing-key "rk"
            0x01,  // bit 0 mandatory, bit 1 immediate clear
            0xCE,
        ],
        frame: .method(
            channel: 1, .basic(.publish(.init(exchange: "ex", routingKey: "rk", mandatory: true, immediate: false)))))

    static let ackMultiple = CodecFixture(
        name: "basic.ack multiple",
        bytes: [
            0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0D,  // method, channel 1, 13-byte payload
            0x00, 0x3C, 0x00, 0x50,  // class 60, method 80
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  // delivery-tag 5
            0x01,  // bit 0 multiple
            0xCE,
        ],
        frame: .method(channel: 1, .basic(.ack(.init(deliveryTag: 5, multiple: true)))))

    static let queueDeclare = CodecFixture(
        name: "queue.declare durable auto-delete no-wait with arguments",
        bytes: [
            0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x38,  // method, channel 2, 56-byte payload
            0x00, 0x32, 0x00, 0x0A,  // class 50, method 10
            0x00, 0x00,  // reserved-1
            0x01, 0x71,  // queue "q"
            0x1A,  // durable (2) | auto-delete (8) | no-wait (16); passive 1 and exclusive 4 clear
            0x00, 0x00, 0x00, 0x2B,  // arguments: 43 bytes
            0x0D, 0x78, 0x2D, 0x6D, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x2D, 0x74, 0x74, 0x6C,  // "x-message-ttl"
            0x49, 0x00, 0x00, 0xEA, 0x60,  // 'I' 60000
            0x0C, 0x78, 0x2D, 0x71, 0x75, 0x65, 0x75, 0x65, 0x2D, 0x74, 0x79, 0x70, 0x65,  // "x-queue-type"
            0x53, 0x00, 0x00, 0x00, 0x06, 0x71, 0x75, 0x6F, 0x72, 0x75, 0x6D,  // 'S' "quorum"
            0xCE,
        ],
        frame: .method(
            channel: 2,
            .queue(
                .declare(
                    .init(
                        queue: "q", passive: false, durable: true, exclusive: false, autoDelete: true, noWait: true,
                        arguments: ["x-message-ttl": .int32(60000), "x-queue-type": .string("quorum")])))))

    static let deliver = CodecFixture(
        name: "basic.deliver redelivered",
        bytes: [
            0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16,  // method, channel 1, 22-byte payload
            0x00, 0x3C, 0x00, 0x3C,  // class 60, method 60
            0x04, 0x63, 0x74, 0x61, 0x67,  // consumer-tag "ctag"
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // delivery-tag 1
            0x01,  // bit 0 redelivered
            0x00,  // exchange ""
            0x02, 0x72, 0x6B,  // routing-key "rk"
            0xCE,
        ],
        frame: .method(
            channel: 1,
            .basic(
                .deliver(.init(consumerTag: "ctag", deliveryTag: 1, redelivered: true, exchange: "", routingKey: "rk")))
        ))

    static let contentHeader = CodecFixture(
        name: "content header with five properties",
        bytes: [
            0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x28,  // header, channel 1, 40-byte payload
            0x00, 0x3C,  // class 60
            0x00, 0x00,  // weight
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  // body size 5
            0x94, 0x44,  // flags: content-type 15, delivery-mode 12, correlation-id 10, timestamp 6, cluster-id 2
            0x0A, 0x74, 0x65, 0x78, 0x74, 0x2F, 0x70, 0x6C, 0x61, 0x69, 0x6E,  // "text/plain"
            0x02,  // delivery-mode 2
            0x02, 0x63, 0x31,  // correlation-id "c1"
            0x00, 0x00, 0x00, 0x00, 0x65, 0x53, 0xF1, 0x00,  // timestamp 1700000000
            0x02, 0x63, 0x6C,  // cluster-id "cl"
            0xCE,
        ],
        frame: .header(
            channel: 1,
            ContentHeader(
                bodySize: 5,
                properties: BasicProperties(
                    contentType: "text/plain", deliveryMode: 2, correlationID: "c1",
                    timestamp: AMQPTimestamp(secondsSince1970: 1_700_000_000), clusterID: "cl"))))

    static let confirmSelect = CodecFixture(
        name: "confirm.select",
        bytes: [
            0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,  // method, channel 1, 5-byte payload
            0x00, 0x55, 0x00, 0x0A,  // class 85, method 10
            0x00,  // bit 0 no-wait clear
            0xCE,
        ],
        frame: .method(channel: 1, .confirm(.select(.init(noWait: false)))))
}

/// A field table holding one value of every type, keyed by its RabbitMQ tag.
enum FieldTableFixture {
    static let bytes: [UInt8] = [
        0x00, 0x00, 0x00, 0x7D,  // 125 bytes of entries
        0x01, 0x74, 0x74, 0x01,  // "t": boolean true
        0x01, 0x62, 0x62, 0xFF,  // "b": int8 -1
        0x01, 0x42, 0x42, 0xFF,  // "B": uint8 255
        0x01, 0x73, 0x73, 0xFF, 0xFE,  // "s": int16 -2
        0x01, 0x75, 0x75, 0xFF, 0xFE,  // "u": uint16 65534
        0x01, 0x49, 0x49, 0xFF, 0xFF, 0xFF, 0xFD,  // "I": int32 -3
        0x01, 0x69, 0x69, 0xFF, 0xFF, 0xFF, 0xFD,  // "i": uint32 4294967293
        0x01, 0x6C, 0x6C, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,  // "l": int64 -4
        0x01, 0x66, 0x66, 0x3F, 0xC0, 0x00, 0x00,  // "f": float 1.5
        0x01, 0x64, 0x64, 0x3F, 0xF8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // "d": double 1.5
        0x01, 0x44, 0x44, 0x02, 0x00, 0x00, 0x04, 0xD2,  // "D": decimal 12.34 (scale 2, 1234)
        0x01, 0x53, 0x53, 0x00, 0x00, 0x00, 0x02, 0x68, 0x69,  // "S": "hi"
        0x01, 0x41, 0x41, 0x00, 0x00, 0x00, 0x03, 0x62, 0x01, 0x56,  // "A": [int8 1, void]
        0x01, 0x54, 0x54, 0x00, 0x00, 0x00, 0x00, 0x65, 0x53, 0xF1, 0x00,  // "T": 1700000000
        0x01, 0x46, 0x46, 0x00, 0x00, 0x00, 0x03, 0x01, 0x6B, 0x56,  // "F": ["k": void]
        0x01, 0x56, 0x56,  // "V": void
        0x01, 0x78, 0x78, 0x00, 0x00, 0x00, 0x02, 0xDE, 0xAD,  // "x": bytes DE AD
    ]

    static let table: FieldTable = [
        "t": .boolean(true),
        "b": .int8(-1),
        "B": .uint8(255),
        "s": .int16(-2),
        "u": .uint16(65534),
        "I": .int32(-3),
        "i": .uint32(4_294_967_293),
        "l": .int64(-4),
        "f": .float(1.5),
        "d": .double(1.5),
        "D": .decimal(AMQPDecimal(scale: 2, value: 1234)),
        "S": .string("hi"),
        "A": .array([.int8(1), .void]),
        "T": .timestamp(AMQPTimestamp(secondsSince1970: 1_700_000_000)),
        "F": .table(["k": .void]),
        "V": .void,
        "x": .bytes([0xDE, 0xAD]),
    ]
}
