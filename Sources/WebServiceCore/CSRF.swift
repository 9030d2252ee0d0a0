/// Cross-site request forgery protection by the double-submit cookie pattern: the form carries a
/// random token that must equal the one in the `csrf` cookie (SameSite=Strict, HttpOnly). A page
/// on another site can make the browser post the form but can read neither the cookie nor the
/// token, so it cannot supply a matching pair. Tokens come from the system's secure generator.
public enum CSRF {
    public static let cookieName = "csrf"
    public static let fieldName = "csrf_token"

    /// 32 random bytes as 64 hex digits.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        for _ in 0..<4 {
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            text += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return text
    }

    /// Whether the form's token matches the cookie's, compared in constant time.
    public static func isValid(formToken: String?, cookieToken: String?) -> Bool {
        guard let formToken, let cookieToken, formToken.utf8.count == 64, cookieToken.utf8.count == 64 else {
            return false
        }
        var difference: UInt8 = 0
        for (a, b) in zip(formToken.utf8, cookieToken.utf8) { difference |= a ^ b }
        return difference == 0
    }

    /// The `Set-Cookie` value for `token`.
    public static func cookie(_ token: String) -> String {
        "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
    }

    /// The token in a `Cookie` header, if any.
    public static func token(fromCookieHeader header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            if pair[0].trimmingSpacesSubstring == cookieName { return String(pair[1].trimmingSpacesSubstring) }
        }
        return nil
    }
}

extension Substring {
    var trimmingSpacesSubstring: Substring {
        var text = self
        while let first = text.first, first == " " { text = text.dropFirst() }
        while let last = text.last, last == " " { text = text.dropLast() }
        return text
    }
}
