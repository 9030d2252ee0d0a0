import Foundation

/// The HTML of `GET /` (and of a form re-shown with errors): the tutorial's three fields, the
/// success message, and the recent emails with their status. Every piece of user data is
/// escaped; the page loads nothing from other sites.
public enum FormPage {
    public static func render(
        form: EmailForm = EmailForm(subject: "", body: "", recipient: ""), errors: [String: String] = [:],
        success: String? = nil, csrfToken: String, recent: [Outbox.Entry]
    ) -> String {
        func field(_ name: String, _ label: String, _ value: String, multiline: Bool = false) -> String {
            let error = errors[name].map { #"<p class="error" id="\#(name)-error">\#(HTML.escape($0))</p>"# } ?? ""
            let invalid = errors[name] == nil ? "" : #" aria-invalid="true" aria-describedby="\#(name)-error""#
            let input =
                multiline
                ? #"<textarea id="\#(name)" name="\#(name)" rows="8"\#(invalid)>\#(HTML.escape(value))</textarea>"#
                : #"<input id="\#(name)" name="\#(name)" type="\#(name == "recipient" ? "email" : "text")" value="\#(HTML.escape(value))"\#(invalid)>"#
            return #"<div class="field"><label for="\#(name)">\#(label)</label>\#(input)\#(error)</div>"#
        }
        let banner = success.map { #"<p class="success" id="success">\#(HTML.escape($0))</p>"# } ?? ""
        let rows = recent.map { entry in
            """
            <tr><td>\(HTML.escape(entry.command.recipient))</td><td>\(HTML.escape(entry.command.subject))</td>\
            <td class="status-\(entry.status.rawValue)">\(entry.status.rawValue)</td>\
            <td>\(HTML.escape(entry.detail ?? ""))</td></tr>
            """
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Send an email</title>
            <style>
            body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
            .field { margin-bottom: 1rem; } label { display: block; font-weight: 600; }
            input, textarea { width: 100%; box-sizing: border-box; padding: .4rem; }
            .error { color: #a00; margin: .2rem 0; } .success { background: #e6f4ea; padding: .6rem; }
            table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: .3rem; text-align: left; }
            </style>
            </head>
            <body>
            <h1>Send an email</h1>
            \(banner)
            <form method="post" action="/" novalidate>
            <input type="hidden" name="\(CSRF.fieldName)" value="\(HTML.escape(csrfToken))">
            \(field("subject", "Subject", form.subject))
            \(field("body", "Body", form.body, multiline: true))
            \(field("recipient", "Recipient", form.recipient))
            <button type="submit" id="send">Send</button>
            </form>
            <h2>Recent emails</h2>
            <table id="recent">
            <thead><tr><th>Recipient</th><th>Subject</th><th>Status</th><th>Detail</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            </body>
            </html>
            """
    }

    /// The tutorial's confirmation.
    public static func successMessage(recipient: String) -> String {
        "You have successfully sent an email to \(recipient)"
    }
}
