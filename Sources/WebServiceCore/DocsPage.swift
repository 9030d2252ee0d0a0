import Foundation

/// `/docs`: the OpenAPI document as a readable page, rendered here (no script, no CDN).
public enum DocsPage {
    public static func render(openAPI: String = OpenAPIDocument.json) -> String {
        guard let data = openAPI.data(using: .utf8),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let paths = root["paths"] as? [String: Any]
        else { return "<!doctype html><title>API</title><p>The API description could not be read.</p>" }
        let info = root["info"] as? [String: Any]
        var sections = ""
        for path in paths.keys.sorted() {
            guard let operations = paths[path] as? [String: Any] else { continue }
            for method in operations.keys.sorted() {
                guard let operation = operations[method] as? [String: Any] else { continue }
                let summary = operation["summary"] as? String ?? ""
                let responses = (operation["responses"] as? [String: Any]) ?? [:]
                let rows = responses.keys.sorted().map { code -> String in
                    let description = (responses[code] as? [String: Any])?["description"] as? String ?? ""
                    return "<tr><td>\(HTML.escape(code))</td><td>\(HTML.escape(description))</td></tr>"
                }.joined()
                sections += """
                    <section><h2><code>\(HTML.escape(method.uppercased())) \(HTML.escape(path))</code></h2>
                    <p>\(HTML.escape(summary))</p>
                    <table><thead><tr><th>Status</th><th>Meaning</th></tr></thead><tbody>\(rows)</tbody></table></section>

                    """
            }
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(info?["title"] as? String ?? "API"))</title>
            <style>body { font-family: system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; }
            td, th { text-align: left; padding: .2rem .6rem .2rem 0; vertical-align: top; }</style></head>
            <body><h1>\(HTML.escape(info?["title"] as? String ?? "API"))</h1>
            <p>\(HTML.escape(info?["description"] as? String ?? ""))</p>
            <p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
            \(sections)</body></html>
            """
    }
}
