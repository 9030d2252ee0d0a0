import AMQPWire

/// The bodies and properties of Nameko RPC requests and replies (docs/wire-formats/nameko.md).
/// Pure: no I/O, every rule here has a unit test.
enum NamekoRPCMessages {
    // MARK: Requests

    /// The request body `{"args": [...], "kwargs": {...}}` for `arguments` (a JSON object): the
    /// members named in `positional` go into `args` in that order, up to the first absent one;
    /// the others into `kwargs`.
    static func requestBody(arguments: [String: NamekoJSON], positional: [String]) -> [UInt8] {
        var kwargs = arguments
        var args: [NamekoJSON] = []
        for name in positional {
            guard let value = kwargs.removeValue(forKey: name) else { break }
            args.append(value)
        }
        var out: [UInt8] = []
        NamekoJSON.writeOrderedObject([("args", .array(args)), ("kwargs", .object(kwargs))], into: &out, .python)
        return out
    }

    /// The properties a Nameko caller sends (2.14.1's, plus `expiration` so a request nobody
    /// took in time does not run after its caller gave up).
    static func requestProperties(
        correlationID: String, replyTo: String, headers: FieldTable, expirationMilliseconds: Int
    ) -> BasicProperties {
        BasicProperties(
            contentType: "application/json", contentEncoding: "utf-8", headers: headers, deliveryMode: 2, priority: 0,
            correlationID: correlationID, replyTo: replyTo, expiration: String(max(1, expirationMilliseconds)))
    }

    /// A request's `args` and `kwargs`. Throws the `MalformedRequest` a Nameko caller gets when
    /// the content type is not JSON, the body is not JSON, or the envelope is wrong.
    static func parseRequest(body: [UInt8], contentType: String?) throws(NamekoRemoteError) -> (
        args: [NamekoJSON], kwargs: [String: NamekoJSON]
    ) {
        try envelope(of: try parseBody(body, contentType: contentType))
    }

    /// The JSON of a message's body. Throws `MalformedRequest` when the content type or the body is not JSON.
    static func parseBody(_ body: [UInt8], contentType: String?) throws(NamekoRemoteError) -> NamekoJSON {
        try checkJSON(contentType)
        do {
            return try NamekoJSON.parse(body)
        } catch {
            throw .malformedRequest("the body is not JSON: \(error)")
        }
    }

    /// A request body's `args` and `kwargs`. Throws `MalformedRequest` when they are missing or
    /// are not a list and an object.
    static func envelope(of json: NamekoJSON) throws(NamekoRemoteError) -> (
        args: [NamekoJSON], kwargs: [String: NamekoJSON]
    ) {
        guard let args = json["args"], let kwargs = json["kwargs"] else {
            // Nameko's own text for this case.
            throw .malformedRequest("Message missing `args` or `kwargs`")
        }
        guard case .array(let list) = args, case .object(let members) = kwargs else {
            throw .malformedRequest("`args` must be a list and `kwargs` an object")
        }
        return (list, members)
    }

    static func checkJSON(_ contentType: String?) throws(NamekoRemoteError) {
        guard let contentType else {
            throw .malformedRequest("the message has no content type; Nameko messages are application/json")
        }
        guard contentType.lowercased().hasPrefix("application/json") else {
            throw .malformedRequest("content type '\(contentType)' is not supported; send application/json")
        }
    }

    /// Binds a call's arguments to parameter names, as Python binds them to a signature: the
    /// `args` in order to `positional`, then the `kwargs`. Throws `IncorrectSignature` for too
    /// many positional arguments or one given twice. Unknown keyword arguments are kept (a
    /// `Decodable` ignores them, so a newer caller works with an older server).
    static func bind(
        args: [NamekoJSON], kwargs: [String: NamekoJSON], positional: [String], method: String
    ) throws(NamekoRemoteError) -> [String: NamekoJSON] {
        guard args.count <= positional.count else {
            throw .incorrectSignature(
                "\(method)() takes \(positional.count) positional argument\(positional.count == 1 ? "" : "s") but \(args.count) \(args.count == 1 ? "was" : "were") given"
            )
        }
        var bound = kwargs
        for (name, value) in zip(positional, args) {
            guard bound[name] == nil else {
                throw .incorrectSignature("\(method)() got multiple values for argument '\(name)'")
            }
            bound[name] = value
        }
        return bound
    }

    /// Decodes bound arguments as `T`. Throws `IncorrectSignature` saying which argument is
    /// missing or does not fit.
    static func decodeArguments<T: Decodable>(
        _ type: T.Type, from bound: [String: NamekoJSON], method: String
    ) throws(NamekoRemoteError) -> T {
        do {
            return try NamekoCoding.decode(type, from: .object(bound))
        } catch let DecodingError.keyNotFound(key, context) where context.codingPath.isEmpty {
            throw .incorrectSignature("\(method)() missing required argument: '\(key.stringValue)'")
        } catch {
            throw .incorrectSignature(
                "\(method)() cannot take these arguments: \(NativeWireFormat.describe(error))")
        }
    }

    // MARK: Replies

    /// What Nameko replies with: `content_type` and `content_encoding`, an empty header table,
    /// persistent, priority 0, and the request's correlation id (flags `0xfc00` on the wire).
    static func replyProperties(correlationID: String?) -> BasicProperties {
        BasicProperties(
            contentType: "application/json", contentEncoding: "utf-8", headers: [:], deliveryMode: 2, priority: 0,
            correlationID: correlationID)
    }

    /// `{"result": <result>, "error": null}`.
    static func replyBody(result: NamekoJSON) -> [UInt8] {
        var out: [UInt8] = []
        NamekoJSON.writeOrderedObject([("result", result), ("error", .null)], into: &out, .python)
        return out
    }

    /// `{"result": null, "error": {"exc_type": ..., "exc_path": ..., "exc_args": [...], "value": ...}}`.
    static func replyBody(error: NamekoRemoteError) -> [UInt8] {
        var errorObject: [UInt8] = []
        var out: [UInt8] = []
        NamekoJSON.writeOrderedObject(
            [
                ("exc_type", .string(error.excType)), ("exc_path", .string(error.excPath)),
                ("exc_args", .array(error.excArgs.map(NamekoJSON.string))), ("value", .string(error.value)),
            ], into: &errorObject, .python)
        out.append(contentsOf: #"{"result": null, "error": "#.utf8)
        out.append(contentsOf: errorObject)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Why a reply could not be read.
    struct InvalidReply: Error, CustomStringConvertible {
        var description: String
    }

    /// A reply's result, or the remote error it carries.
    static func parseReply(body: [UInt8], contentType: String?) throws -> Result<NamekoJSON, NamekoRemoteError> {
        do {
            try checkJSON(contentType)
        } catch {
            throw InvalidReply(description: error.value)
        }
        let json = try NamekoJSON.parse(body)
        guard case .object(let members) = json, members["result"] != nil || members["error"] != nil else {
            throw InvalidReply(description: "a reply must be an object with `result` and `error`")
        }
        guard let error = members["error"], error != .null else { return .success(members["result"] ?? .null) }
        func text(_ value: NamekoJSON?) -> String {
            switch value {
            case .string(let s)?: s
            case nil, .null?: ""
            case let other?: String(decoding: other.serialized(), as: UTF8.self)
            }
        }
        var excArgs: [String] = []
        if case .array(let values)? = error["exc_args"] { excArgs = values.map(text) }
        return .failure(
            NamekoRemoteError(
                excType: text(error["exc_type"]), excPath: text(error["exc_path"]), excArgs: excArgs,
                value: text(error["value"])))
    }
}
