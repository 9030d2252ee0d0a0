/// A method's class id and method id, as the first four bytes of a method frame carry them.
public struct AMQPMethodID: Hashable, Sendable, CustomStringConvertible {
    public var classID: UInt16
    public var methodID: UInt16

    public init(classID: UInt16, methodID: UInt16) {
        self.classID = classID
        self.methodID = methodID
    }

    public var description: String { name ?? "method \(classID).\(methodID)" }
}
