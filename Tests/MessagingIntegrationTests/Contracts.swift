import Foundation
import Messaging

// Test contracts. Their destination is a per-test service name, so parallel tests never share
// queues: `Routed` reads it from a task-local set by each test.

enum TestRouting {
    @TaskLocal static var service = "unset"
}

struct Ping: Command, Hashable {
    static let messageType = "test.ping.v1"
    static var destination: String { TestRouting.service }
    var text: String
    var number: Int
}

struct Add: RemoteProcedure {
    typealias Reply = Sum
    static let messageType = "test.add.v1"
    static var destination: String { TestRouting.service }
    var a: Int
    var b: Int
}

struct Sum: Codable, Sendable, Equatable {
    var value: Int
}

struct Happened: Event, Hashable {
    static let messageType = "test.happened.v1"
    static var source: String { TestRouting.service }
    var what: String
}

/// Version 2 of Ping: a new optional field. Same wire name, as a compatible change keeps it.
struct PingV2: Command, Hashable {
    static let messageType = "test.ping.v1"
    static var destination: String { TestRouting.service }
    var text: String
    var number: Int
    var priority: String?
}

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}
