import Testing

@testable import AMQPWire

/// Invalid URIs: each is refused with `invalidConfiguration` and a message naming the part at fault.
@Suite struct AMQPURIRejectionTests {
    struct Case: Sendable, CustomStringConvertible {
        var uri: String
        /// Words the message must contain, so the reader knows what to fix.
        var mentions: [String]
        var description: String { uri }
        init(_ uri: String, _ mentions: String...) {
            self.uri = uri
            self.mentions = mentions
        }
    }

    static let cases: [Case] = [
        // Scheme and overall shape.
        Case("http://www.rabbitmq.com", "scheme", "http"),
        Case("amqps://host", "amqps", "TLS"),
        Case("AMQPS://host:5671", "amqps"),
        Case("host:5672", "amqp://"),
        Case("", "amqp://"),
        Case("amqp://host/vh#section", "fragment"),
        // Host and port.
        Case("amqp://host:99999", "port", "99999"),
        Case("amqp://foo:1000000", "port"),
        Case("amqp://host:0", "port"),
        Case("amqp://host:-1", "port"),
        Case("amqp://host:+5", "port"),
        Case("amqp://host: 5", "port"),
        Case("amqp://foo:1000xyz", "port"),
        Case("amqp://foo:bar:baz", "host"),
        Case("amqp://::1", "host", "brackets"),
        Case("amqp://fe80::1:5672", "host", "brackets"),
        Case("amqp://foo[::1]", "host"),
        Case("amqp://foo:[::1]", "host"),
        Case("amqp://[::1", "IPv6", "]"),
        Case("amqp://[::1]foo", "IPv6"),
        Case("amqp://[rabbit]", "IPv6"),
        Case("amqp://[::1]:abc", "port"),
        Case("amqp://foo%1", "host", "%"),
        Case("amqp://foo%1x", "host", "%"),
        Case("amqp://foo%xy", "host", "%"),
        // Credentials.
        Case("amqp://us%zzer:pw@host", "username", "%"),
        Case("amqp://user:p%2@host", "password", "%"),
        Case("amqp://%FF:pw@host", "username", "UTF-8"),
        // Virtual host.
        Case("amqp://foo/bar/baz", "virtual host", "%2f"),
        Case("amqp://host//", "virtual host"),
        Case("amqp://host/%zz", "virtual host", "%"),
        Case("amqp://host/%2", "virtual host", "%"),
        Case("amqp://host/%C3%28", "virtual host", "UTF-8"),
        // Query parameters.
        Case("amqp://host?heartbeat=abc", "heartbeat", "abc"),
        Case("amqp://host?heartbeat=65536", "heartbeat"),
        Case("amqp://host?heartbeat=-1", "heartbeat"),
        Case("amqp://host?heartbeat=+5", "heartbeat"),
        Case("amqp://host?heartbeat=", "heartbeat"),
        Case("amqp://host?heartbeat", "heartbeat"),
        Case("amqp://host?heartbeat=%zz", "heartbeat", "%"),
        Case("amqp://host?frame_max=4096", "frame_max", "8192"),
        Case("amqp://host?frame_max=8191", "frame_max"),
        Case("amqp://host?frame_max=4294967296", "frame_max"),
        Case("amqp://host?channel_max=65536", "channel_max"),
        Case("amqp://host?channel_max=ten", "channel_max"),
        Case("amqp://host?connection_timeout=0", "connection_timeout"),
        Case("amqp://host?connection_timeout=1.5", "connection_timeout"),
        Case("amqp://host?connection_timeout=-100", "connection_timeout"),
        Case("amqp://host?auth_mechanism=scram-sha-256", "auth_mechanism", "scram-sha-256"),
        Case("amqp://host?auth_mechanism=", "auth_mechanism"),
        Case("amqp://host?heartbeats=10", "unknown query parameter", "heartbeats"),
        Case("amqp://host?verify=verify_peer", "unknown query parameter", "verify"),
        Case("amqp://host?=5", "unknown query parameter"),
        Case("amqp://host?%zz=1", "query parameter name", "%"),
    ]

    @Test(arguments: cases)
    func invalidURIIsRefusedNamingThePartAtFault(_ c: Case) {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: c.uri) }
        #expect(error?.code == .invalidConfiguration)
        for word in c.mentions {
            #expect(error?.message.contains(word) == true, "'\(word)' missing from: \(error?.message ?? "")")
        }
    }

    static let withPasswords: [String] = [
        "amqp://user:hunter2@host:99999/vh",
        "amqps://user:hunter2@host",
        "amqp://user:hunter2@host/a/b",
        "amqp://user:hunter2@host?heartbeat=x",
        "amqp://user:hunter2@host?nope=1",
        "amqp://user:hunter2@host#frag",
        "amqp://user:hunter2@ho%zzst",
        "amqp://user:hunter2@[::1",
        "amqp://us%zz:hunter2@host",
        "amqp://user:hun%74er2@host:0",
        "amqp://user:hunter2@host?connection_name=ops@example&heartbeat=x",
        "amqp://:hunter2@host:0",
    ]

    @Test(arguments: withPasswords)
    func passwordIsRedactedInErrorMessages(uri: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: uri) }
        let message = try #require(error?.message)
        #expect(!message.contains("hunter2"))
        #expect(!message.contains("hun%74er2"))
        #expect(message.contains(":***@"), "the URI is shown with its password hidden: \(message)")
        let full = try #require(error)
        #expect(!full.description.contains("hunter2"))
    }

    @Test func redactionLeavesURIsWithoutPasswordAlone() {
        #expect(AMQPURI.redacted("amqp://host:5672/vh") == "amqp://host:5672/vh")
        #expect(AMQPURI.redacted("amqp://user@host") == "amqp://user@host")
        #expect(AMQPURI.redacted("amqp://user:pw@host/vh?heartbeat=1") == "amqp://user:***@host/vh?heartbeat=1")
        #expect(AMQPURI.redacted("amqp://user:p@w@host") == "amqp://user:***@host")
        #expect(AMQPURI.redacted("not a uri") == "not a uri")
    }
}

/// Passwords with a raw '/', '?' or '#' (which must be percent-encoded) end the authority early.
@Suite struct AMQPURIUnencodedPasswordTests {
    @Test(arguments: ["amqp://user:hun/ter2@host", "amqp://user:hun?ter2@host", "amqp://user:hun?ter2@host:0/vh"])
    func unencodedDelimiterInThePasswordIsRefused(uri: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: uri) }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test(arguments: ["amqp://user:hun/ter2@host", "amqp://user:hun?ter2@host"])
    func unencodedDelimiterInThePasswordDoesNotLeakIntoTheMessage(uri: String) throws {
        let error = #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: uri) }
        let message = try #require(error?.message)
        // The RFC 3986 authority ends at the raw '/' or '?', so the "port" is part of the password:
        // the message explains the encoding rule and quotes none of it.
        #expect(!message.contains("hun") && !message.contains("ter2"))
        #expect(message.contains("percent-encoded"))
    }
}
