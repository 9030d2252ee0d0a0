import EmailContracts
import Foundation
import Testing
import WebServiceCore

@Suite struct FormTests {
    static func noAddressProblem(_: String) -> String? { nil }

    @Test func aValidFormBecomesTheCommandTrimmed() throws {
        let form = EmailForm(subject: "  Hi ", body: "Hello\nthere", recipient: " ann@example.com ")
        #expect(
            try form.validated(checkAddress: Self.noAddressProblem).get()
                == SendEmail(subject: "Hi", body: "Hello\nthere", recipient: "ann@example.com"))
    }

    @Test func everyFieldsProblemIsReportedAtOnce() {
        let form = EmailForm(subject: "", body: "   ", recipient: "not an address")
        guard case .failure(let errors) = form.validated(checkAddress: { _ in "That is not an email address." })
        else {
            Issue.record("expected errors")
            return
        }
        #expect(errors.fields.keys.sorted() == ["body", "recipient", "subject"])
        #expect(errors.fields["recipient"] == "That is not an email address.")
    }

    @Test(arguments: ["a\r\nBcc: x@y.z", "line\none", "tab\u{7}bell", String(repeating: "s", count: 201)])
    func subjectsThatCouldInjectHeadersOrAreTooLongAreRefused(subject: String) {
        let result = EmailForm(subject: subject, body: "b", recipient: "a@b.c").validated(
            checkAddress: Self.noAddressProblem)
        guard case .failure(let errors) = result else {
            Issue.record("accepted \(subject.debugDescription)")
            return
        }
        #expect(errors.fields["subject"] != nil)
    }

    @Test func userDataIsEscapedEverywhereOnThePage() {
        let script = "<script>alert('x')</script>"
        let html = FormPage.render(
            form: EmailForm(subject: script, body: "</textarea>\(script)", recipient: "\"><img src=x>"),
            errors: ["subject": script], success: FormPage.successMessage(recipient: script), csrfToken: "t",
            recent: [])
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;/textarea&gt;"))
        #expect(html.components(separatedBy: "</textarea>").count == 2)
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(html.contains("You have successfully sent an email to &lt;script&gt;"))
    }

    @Test func csrfTokensMatchOnlyTheirCookie() {
        let token = CSRF.newToken()
        #expect(token.count == 64)
        #expect(CSRF.newToken() != token)
        let cookie = CSRF.token(fromCookieHeader: "a=b; \(CSRF.cookieName)=\(token); c=d")
        #expect(cookie == token)
        #expect(CSRF.isValid(formToken: token, cookieToken: cookie))
        #expect(!CSRF.isValid(formToken: CSRF.newToken(), cookieToken: cookie))
        #expect(!CSRF.isValid(formToken: nil, cookieToken: cookie))
        #expect(!CSRF.isValid(formToken: "", cookieToken: ""))
    }
}
