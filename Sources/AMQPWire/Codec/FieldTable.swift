/// An AMQP field table: string keys to ``FieldValue``s, in wire order.
///
/// Entries keep the order (and any repeated keys) they were decoded or added in, so a table
/// re-encodes to the same bytes. Lookups by key are linear, which is faster than hashing for
/// the handful of entries tables hold in practice.
public struct FieldTable: Sendable, Hashable, ExpressibleByDictionaryLiteral, RandomAccessCollection,
    CustomStringConvertible
{
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: FieldValue
        public init(key: String, value: FieldValue) {
            self.key = key
            self.value = value
        }
    }

    public var entries: [Entry]

    public init() { entries = [] }
    public init(_ entries: [Entry]) { self.entries = entries }
    public init(dictionaryLiteral elements: (String, FieldValue)...) {
        entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// The first value under `key`; setting replaces it, or appends when absent; `nil` removes every entry under `key`.
    public subscript(key: String) -> FieldValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            guard let newValue else {
                entries.removeAll { $0.key == key }
                return
            }
            if let i = entries.firstIndex(where: { $0.key == key }) {
                entries[i].value = newValue
            } else {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public var startIndex: Int { entries.startIndex }
    public var endIndex: Int { entries.endIndex }
    public subscript(position: Int) -> Entry { entries[position] }

    public var description: String {
        "[" + entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
    }
}
