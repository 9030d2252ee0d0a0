import Foundation

/// How Swift `Date` values are written in Nameko messages (reading accepts both forms).
public enum NamekoDateEncoding: Sendable, Hashable {
    /// A string in Python's `datetime.isoformat()` layout, in UTC: `2024-05-01T12:30:00+00:00`,
    /// with `.ffffff` when there is a fraction of a second. A Python peer gets a `str` (which
    /// `datetime.fromisoformat` reads on every Python 3), whatever its kombu version.
    case isoString
    /// kombu's wrapper `{"__type__": "datetime", "__value__": "<isoformat>"}`: a Python peer with
    /// kombu 5.3 or later gets a `datetime`, as from a Nameko peer; older kombu sees the dict.
    case kombuDatetime
}

/// Converts between Swift values and the JSON of the Nameko format, kombu's typed wrappers
/// included. Pure; the error is the one of the Foundation coder underneath.
enum NamekoCoding {
    /// The JSON of `value`. Objects come out with sorted keys. Throws `EncodingError` (for
    /// example for a non-finite `Double`, which JSON cannot hold).
    static func encode<T: Encodable>(_ value: T, dates: NamekoDateEncoding) throws -> NamekoJSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            let text = PythonISODate.format(date)
            switch dates {
            case .isoString:
                var container = encoder.singleValueContainer()
                try container.encode(text)
            case .kombuDatetime:
                var container = encoder.container(keyedBy: KombuKey.self)
                try container.encode("datetime", forKey: .type)
                try container.encode(text, forKey: .value)
            }
        }
        let data = try encoder.encode(value)
        // Foundation wrote it, so it is JSON.
        return try NamekoJSON.parse(Array(data))
    }

    /// Decodes `T` from `json` after replacing kombu's wrappers (``unwrapKombu(_:)``). A `Date`
    /// reads any `isoformat()` string (or a date alone, as midnight UTC). Throws `DecodingError`.
    static func decode<T: Decodable>(_ type: T.Type, from json: NamekoJSON) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = PythonISODate.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not an ISO 8601 date")
            }
            return date
        }
        return try decoder.decode(type, from: Data(unwrapKombu(json).serialized(.foundation)))
    }

    private enum KombuKey: String, CodingKey {
        case type = "__type__"
        case value = "__value__"
    }

    /// Replaces every kombu wrapper, an object with exactly the keys `__type__` and `__value__`,
    /// by the plain JSON a Swift `Decodable` reads:
    ///
    /// | `__type__` | `__value__` | becomes |
    /// |---|---|---|
    /// | `datetime`, `date`, `time` | isoformat string | that string (`Date` reads the first two) |
    /// | `decimal` | string such as `"1.50"` | the number `1.50` (for `Decimal` or `Double`) |
    /// | `uuid` | `{"hex": "<32 hex digits>"}` | `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"` (for `UUID`) |
    /// | `bytes` | UTF-8 text | that string |
    /// | `base64` | base64 text | that string (for `Data`, which reads base64) |
    ///
    /// Other wrappers, and values that do not fit, are left as they are (kombu itself refuses them).
    static func unwrapKombu(_ json: NamekoJSON) -> NamekoJSON {
        switch json {
        case .array(let elements):
            return .array(elements.map(unwrapKombu))
        case .object(let members):
            if members.count == 2, case .string(let type)? = members["__type__"], let value = members["__value__"],
                let plain = plain(type: type, value: value)
            {
                return plain
            }
            return .object(members.mapValues(unwrapKombu))
        default:
            return json
        }
    }

    private static func plain(type: String, value: NamekoJSON) -> NamekoJSON? {
        switch (type, value) {
        case ("datetime", .string), ("date", .string), ("time", .string), ("bytes", .string), ("base64", .string):
            return value
        case ("decimal", .string(let text)):
            guard case .number? = try? NamekoJSON.parse(Array(text.utf8)) else { return value }
            return .number(text)
        case ("uuid", .object(let fields)):
            guard fields.count == 1, case .string(let hex)? = fields["hex"], hex.utf8.count == 32,
                hex.utf8.allSatisfy({ $0.isHexDigit })
            else { return nil }
            let h = Array(hex.lowercased())
            let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(h[$0]) }
            return .string(groups.joined(separator: "-"))
        default:
            return nil
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

/// Python's `datetime.isoformat()` and `fromisoformat()`, for UTC instants. Pure.
enum PythonISODate {
    /// `2024-05-01T12:30:00+00:00`, or `2024-05-01T12:30:00.250000+00:00` with a fraction
    /// (microseconds, rounded; Python writes six digits or none).
    static func format(_ date: Date) -> String {
        var micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        if !micros.isFinite { micros = 0 }
        let total = Int64(max(min(micros, 9.2e18), -9.2e18))
        let seconds = total.floorDiv(1_000_000)
        let fraction = Int(total - seconds * 1_000_000)
        let days = seconds.floorDiv(86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        func pad(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        text += "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fraction != 0 { text += ".\(pad(fraction, 6))" }
        return text + "+00:00"
    }

    /// Reads `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM`, `:SS`, a fraction
    /// of up to 9 digits, and `Z` or an offset `±HH:MM[:SS]`. A time without an offset (Python's
    /// naive `datetime`) is taken as UTC, and a date alone as its midnight UTC. Nil otherwise.
    static func parse(_ text: String) -> Date? {
        var s = Substring(text).utf8[...]
        func number(_ count: Int) -> Int? {
            guard s.count >= count else { return nil }
            var value = 0
            for byte in s.prefix(count) {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            s = s.dropFirst(count)
            return value
        }
        func take(_ ascii: Character) -> Bool {
            guard let first = s.first, first == ascii.asciiValue else { return false }
            s = s.dropFirst()
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var seconds = Double(days(fromCivil: year, month, day)) * 86_400
        if s.isEmpty { return Date(timeIntervalSince1970: seconds) }
        guard take("T") || take(" "), let hour = number(2), take(":"), let minute = number(2), hour < 24, minute < 60
        else { return nil }
        var second = 0
        var fraction = 0.0
        if take(":") {
            guard let value = number(2), value < 60 else { return nil }
            second = value
            if take(".") || take(",") {
                var scale = 0.1
                var digits = 0
                while let byte = s.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    if digits < 9 { fraction += Double(byte - UInt8(ascii: "0")) * scale }
                    scale /= 10
                    digits += 1
                    s = s.dropFirst()
                }
                guard digits > 0 else { return nil }
            }
        }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if !take("Z"), let sign = s.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            s = s.dropFirst()
            guard let offsetHours = number(2), take(":"), let offsetMinutes = number(2) else { return nil }
            var offset = offsetHours * 3600 + offsetMinutes * 60
            if take(":") {
                guard let offsetSeconds = number(2) else { return nil }
                offset += offsetSeconds
            }
            seconds -= Double(sign == UInt8(ascii: "+") ? offset : -offset)
        }
        guard s.isEmpty else { return nil }
        // Whole seconds and the fraction are added separately so the fraction keeps its precision.
        return Date(timeIntervalSince1970: seconds + fraction)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = y.floorDiv(400)
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day count since 1970-01-01 (`civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = z.floorDiv(146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

extension Int64 {
    /// Division rounding towards negative infinity (dates before 1970 have negative seconds).
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
