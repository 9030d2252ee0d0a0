// A server for scripts/bench-http.sh: `/health` (a tiny text body) and `/form` (an HTML page of
// about 2 KB), on the port given by --port (default 8090), until SIGINT or SIGTERM.
import Dispatch
import Foundation
import HTTPServer
import Observability

#if canImport(Glibc)
    import Glibc
#endif

func usage() -> Never {
    print("usage: http-bench-server [--port N] [--host ADDRESS] [--max-connections N]")
    exit(2)
}

var configuration = HTTPServer.Configuration(port: 8090)
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { usage() }
    switch flag {
    case "--port": configuration.port = Int(value) ?? { usage() }()
    case "--host": configuration.host = value
    case "--max-connections": configuration.maxConnections = Int(value) ?? { usage() }()
    default: usage()
    }
}

let fields = (1...16).map { index in
    """
        <p><label for="field\(index)">Field \(index)</label>
        <input id="field\(index)" name="field\(index)" type="text" maxlength="200"></p>
    """
}
let formPage = """
    <!doctype html>
    <html lang="en">
    <head><meta charset="utf-8"><title>Send an email</title></head>
    <body>
    <h1>Send an email</h1>
    <form method="post" action="/form">
    \(fields.joined(separator: "\n"))
    <button type="submit">Send</button>
    </form>
    </body>
    </html>

    """

var router = Router()
router.get("/health") { _ in .text("ok\n") }
router.get("/form") { _ in .html(formPage) }

let server: HTTPServer
do {
    server = try HTTPServer(
        configuration: configuration, logger: Logger(label: "http-bench-server", level: .warning), router: router)
} catch {
    FileHandle.standardError.write(Data("http-bench-server: \(error)\n".utf8))
    exit(1)
}
print("http-bench-server: listening on \(configuration.host):\(server.port) (/form is \(formPage.utf8.count) bytes)")

let serving = Task { try await server.run() }
signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
let signals = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .main) }
for source in signals {
    source.setEventHandler { serving.cancel() }
    source.resume()
}
Task {
    _ = await serving.result
    exit(0)
}
dispatchMain()
