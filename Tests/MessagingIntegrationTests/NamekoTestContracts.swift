import Foundation
import Messaging

// Contracts of the Nameko service in Interop/nameko/service.py (and of the Swift servers that
// stand in for it). The service name comes from the per-test `TestRouting.service`.

/// `def hello(self, name, punctuation="!")`
struct NamekoHello: NamekoProcedure, Hashable {
    typealias Reply = String
    static var service: String { TestRouting.service }
    static let method = "hello"
    static let positionalParameters = ["name", "punctuation"]
    var name: String
    var punctuation: String?
}

/// `def fail(self, code)`: raises `ValueError("bad code", code)`.
struct NamekoFail: NamekoProcedure {
    typealias Reply = String
    static var service: String { TestRouting.service }
    static let method = "fail"
    static let positionalParameters = ["code"]
    var code: Int
}

/// `def slow(self, seconds)`
struct NamekoSlow: NamekoProcedure {
    typealias Reply = String
    static var service: String { TestRouting.service }
    static let method = "slow"
    var seconds: Double
}

/// `def typed(self)`: returns a datetime, a Decimal, a UUID and a date (kombu wrappers).
struct NamekoTyped: NamekoProcedure {
    struct Reply: Codable, Sendable {
        var at: Date
        var amount: Decimal
        var id: UUID
        var day: Date
    }
    static var service: String { TestRouting.service }
    static let method = "typed"
}

/// `def describe(self, when, note=None)`: what the arguments became in Python.
struct NamekoDescribe: NamekoProcedure {
    struct Reply: Codable, Sendable {
        var whenType: String
        var when: String
        var note: String?

        enum CodingKeys: String, CodingKey {
            case whenType = "when_type"
            case when
            case note
        }
    }
    static var service: String { TestRouting.service }
    static let method = "describe"
    var when: Date
    var note: String?
}

/// `def announce(self, name)`: dispatches `greeted` from inside the worker.
struct NamekoAnnounce: NamekoProcedure {
    typealias Reply = String
    static var service: String { TestRouting.service }
    static let method = "announce"
    var name: String
}

/// The Nameko service's `greeted` event.
struct NamekoGreeted: NamekoEvent, Hashable {
    static var source: String { TestRouting.service }
    static let eventType = "greeted"
    var name: String
    var at: Date?
}

/// An event a Swift service dispatches; service.py handles it when told its source.
struct SwiftGreeted: NamekoEvent {
    static var source: String { TestRouting.service }
    static let eventType = "swift_greeted"
    var name: String
    var at: Date
    var count: Int
}
