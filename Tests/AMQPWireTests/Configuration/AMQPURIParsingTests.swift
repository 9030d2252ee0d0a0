import Testing

@testable import AMQPWire

/// Valid URIs, each with the whole configuration it must produce.
@Suite struct AMQPURIParsingTests {
    struct Case: Sendable, CustomStringConvertible {
        var uri: String
        var expected: AMQPConnectionConfiguration
        var description: String { uri }

        init(_ uri: String, _ adjust: (inout AMQPConnectionConfiguration) -> Void = { _ in }) {
            self.uri = uri
            var config = AMQPConnectionConfiguration()
            adjust(&config)
            expected = config
        }
    }

    typealias Endpoint = AMQPConnectionConfiguration.Endpoint

    static let cases: [Case] = [
        // From RabbitMQ's URI spec (appendix A), with this client's reading of an empty path.
        Case("amqp://"),
        Case("amqp://user:pass@host:10000/vhost") {
            $0.username = "user"
            $0.password = "pass"
            $0.endpoints = [Endpoint(host: "host", port: 10000)]
            $0.virtualHost = "vhost"
        },
        Case("amqp://user%61:%61pass@ho%61st:10000/v%2fhost") {
            $0.username = "usera"
            $0.password = "apass"
            $0.endpoints = [Endpoint(host: "hoast", port: 10000)]
            $0.virtualHost = "v/host"
        },
        Case("amqp://:@/") {
            $0.username = ""
            $0.password = ""
        },
        Case("amqp://user@") { $0.username = "user" },
        Case("amqp://user:pass@") {
            $0.username = "user"
            $0.password = "pass"
        },
        Case("amqp://host") { $0.endpoints = [Endpoint(host: "host")] },
        Case("amqp://:10000") { $0.endpoints = [Endpoint(host: "localhost", port: 10000)] },
        Case("amqp:///vhost") { $0.virtualHost = "vhost" },
        Case("amqp://host/") { $0.endpoints = [Endpoint(host: "host")] },
        Case("amqp://host/%2f") { $0.endpoints = [Endpoint(host: "host")] },
        Case("amqp://host/%2F") { $0.endpoints = [Endpoint(host: "host")] },
        Case("amqp://[::1]") { $0.endpoints = [Endpoint(host: "::1")] },
        // Further shapes.
        Case("amqp://[::1]:100/blah") {
            $0.endpoints = [Endpoint(host: "::1", port: 100)]
            $0.virtualHost = "blah"
        },
        Case("amqp://user:pass@[2001:db8::7]:5673") {
            $0.username = "user"
            $0.password = "pass"
            $0.endpoints = [Endpoint(host: "2001:db8::7", port: 5673)]
        },
        Case("amqp://host:") { $0.endpoints = [Endpoint(host: "host")] },
        Case("AMQP://Rabbit.example.com:65535") { $0.endpoints = [Endpoint(host: "Rabbit.example.com", port: 65535)] },
        Case("amqp://host:1") { $0.endpoints = [Endpoint(host: "host", port: 1)] },
        Case("amqp://user:p%40ss%3Aw%2Fo%3Frd@host") {
            $0.username = "user"
            $0.password = "p@ss:w/o?rd"
            $0.endpoints = [Endpoint(host: "host")]
        },
        Case("amqp://us%C3%A9r:p%C3%A4ss@host/v%20h%C3%B6st") {
            $0.username = "usér"
            $0.password = "päss"
            $0.endpoints = [Endpoint(host: "host")]
            $0.virtualHost = "v höst"
        },
        Case("amqp://user:pa@ss@host") {
            $0.username = "user"
            $0.password = "pa@ss"
            $0.endpoints = [Endpoint(host: "host")]
        },
        // Query parameters.
        Case(
            "amqp://host/vh?heartbeat=10&frame_max=65536&channel_max=100&connection_timeout=2500&connection_name=billing%20worker"
        ) {
            $0.endpoints = [Endpoint(host: "host")]
            $0.virtualHost = "vh"
            $0.heartbeat = 10
            $0.frameMax = 65536
            $0.channelMax = 100
            $0.connectionTimeout = .milliseconds(2500)
            $0.connectionName = "billing worker"
        },
        Case("amqp://host?heartbeat=0&frame_max=0&channel_max=0") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.heartbeat = 0
            $0.frameMax = 0
            $0.channelMax = 0
        },
        Case("amqp://host?heartbeat=65535&frame_max=8192&channel_max=65535") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.heartbeat = 65535
            $0.frameMax = 8192
            $0.channelMax = 65535
        },
        Case("amqp://host?auth_mechanism=AMQPLAIN") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.authMechanisms = [.amqplain]
        },
        Case("amqp://host?auth_mechanism=external&auth_mechanism=plain") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.authMechanisms = [.external, .plain]
        },
        Case("amqp://host?auth_mechanism=plain&heartbeat=5&auth_mechanism=amqplain") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.authMechanisms = [.plain, .amqplain]
            $0.heartbeat = 5
        },
        Case("amqp://host?auth_mechanism=external&auth_mechanism=plain&auth_mechanism=external") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.authMechanisms = [.external, .plain]
        },
        Case("amqp://host?auth%5Fmechanism=external") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.authMechanisms = [.external]
        },
        Case("amqp://host?connection_name=a%26b%3Dc") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.connectionName = "a&b=c"
        },
        Case("amqp://host?connection_name=") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.connectionName = ""
        },
        Case("amqp://host/?&heartbeat=5&") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.heartbeat = 5
        },
        Case("amqp://host/vh?") {
            $0.endpoints = [Endpoint(host: "host")]
            $0.virtualHost = "vh"
        },
    ]

    @Test(arguments: cases)
    func validURIGivesTheExpectedConfiguration(_ c: Case) throws {
        let config = try AMQPConnectionConfiguration(url: c.uri)
        #expect(config == c.expected)
        try config.validate()
    }

    @Test func defaultsAreRabbitMQs() {
        let config = AMQPConnectionConfiguration()
        #expect(config.endpoints == [.init(host: "localhost", port: 5672)])
        #expect(config.username == "guest")
        #expect(config.password == "guest")
        #expect(config.virtualHost == "/")
        #expect(config.heartbeat == 60)
        #expect(config.frameMax == 131_072)
        #expect(config.channelMax == 2047)
        #expect(config.authMechanisms == [.plain, .amqplain])
        #expect(config.connectionTimeout == .seconds(30))
        #expect(config.connectionName == nil)
    }

    @Test func endpointDescriptionBracketsIPv6() {
        #expect(AMQPConnectionConfiguration.Endpoint(host: "::1", port: 5672).description == "[::1]:5672")
        #expect(AMQPConnectionConfiguration.Endpoint(host: "rabbit", port: 5673).description == "rabbit:5673")
    }
}
