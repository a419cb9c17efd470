public import ArchwayCore
public import NIOCore
import NIOFoundationCompat

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Shared JSON coders. Encoders are configured once; `JSONEncoder`/`JSONDecoder` are thread-safe for use.
public enum WireJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder = JSONDecoder()

    /// A client's JSON body as the decoders and the byte relay may read it: without a leading UTF-8
    /// byte-order mark (some clients and Windows editors write one; the decoders would accept it, the
    /// relay's scanner and the upstream might not), and refused unless it is UTF-8 (RFC 8259), which
    /// the `Codable` decoder does not check in values it skips and the relay would forward as they are.
    public static func clientBody(_ buffer: ByteBuffer) throws(GatewayError) -> ByteBuffer {
        let body = buffer.droppingByteOrderMark()
        let valid = body.withUnsafeReadableBytes { raw in
            (try? UTF8Span(validating: raw.assumingMemoryBound(to: UInt8.self).span)) != nil
        }
        guard valid else { throw GatewayError.invalidJSON("the body is not UTF-8") }
        return body
    }

    /// Whether `buffer` holds one JSON document.
    static func isJSON(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { raw in
            let scanner = JSONScanner(raw)
            guard let document = try? scanner.value(at: 0) else { return false }
            return scanner.skipWhitespace(from: document.upperBound) == raw.count
        }
    }

    /// The first top-level member whose number is past what a 64-bit integer holds (`1e30`, 25 digits),
    /// as the error that names it.
    static func outOfRange(_ buffer: ByteBuffer) -> GatewayError? {
        buffer.withUnsafeReadableBytes { raw -> GatewayError? in
            let scanner = JSONScanner(raw)
            guard let document = try? scanner.value(at: 0) else { return nil }
            var found: GatewayError?
            try? scanner.forEachMember(of: document) { member in
                guard found == nil, let first = member.value.first.map({ scanner.bytes[$0] }),
                      first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
                      scanner.int(member.value) == nil,
                      // Fractions such as a temperature's are fine; what no 64-bit integer holds is not.
                      scanner.double(member.value).map({ !($0.magnitude < 9.2e18) }) ?? true else { return }
                let key = scanner.string((member.key.lowerBound - 1)..<(member.key.upperBound + 1)) ?? ""
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[member.value.prefix(32)]), as: UTF8.self)
                found = .invalidRequest("Invalid value for '\(key.prefix(64))': \(text) is not an integer this field can hold.", param: String(key.prefix(64)), code: "invalid_value")
            }
            return found
        }
    }

    /// Decodes a client body, turning decoding failures into a 400 that names the offending field. A body
    /// with a key twice in one object is refused (`JSONScanner.duplicateKey`).
    public static func decodeRequest<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws(GatewayError) -> T {
        let duplicate = buffer.withUnsafeReadableBytes { raw -> String? in
            let scanner = JSONScanner(raw)
            // Malformed JSON is left to the decoder, whose error names the problem.
            guard let document = try? scanner.value(at: 0) else { return nil }
            return try? scanner.duplicateKey(in: document)
        }
        if let duplicate {
            throw GatewayError.invalidJSON("the key \"\(duplicate.prefix(64))\" occurs twice in one object; send each key once")
        }
        do {
            return try decoder.decode(T.self, from: buffer)
        } catch let error as GatewayError {
            throw error
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty && isJSON(buffer) {
            // The decoder's parser refuses numbers its types cannot hold (`"max_tokens": 1e30`) as if the
            // document were not JSON. It is JSON: name the value instead.
            throw outOfRange(buffer) ?? GatewayError.invalidRequest(#"A value in the body cannot be read: a number too large for its field, or a \u escape that is not a whole Unicode character (a lone surrogate)."#, code: "invalid_value")
        } catch let error as DecodingError {
            throw GatewayError(decodingError: error)
        } catch {
            throw GatewayError.invalidJSON("unreadable body")
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }

    public static func encode(_ value: some Encodable) throws -> ByteBuffer {
        try encoder.encodeAsByteBuffer(value, allocator: ByteBufferAllocator())
    }

    public static func encodeData(_ value: some Encodable) throws -> Data {
        try encoder.encode(value)
    }
}

extension GatewayError {
    /// A 400 naming the field that failed to decode (`messages[0].role`).
    public init(decodingError: DecodingError) {
        func path(_ codingPath: [any CodingKey], appending key: (any CodingKey)? = nil) -> String {
            var result = ""
            for key in codingPath + (key.map { [$0] } ?? []) {
                if let index = key.intValue {
                    result += "[\(index)]"
                } else {
                    result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return result
        }
        switch decodingError {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self = .invalidJSON(context.debugDescription)
            } else {
                let field = path(context.codingPath)
                self = .invalidRequest("Invalid value for '\(field)': \(context.debugDescription)", param: field, code: "invalid_value")
            }
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, appending: key)
            self = .invalidRequest("Missing required parameter: '\(field)'.", param: field, code: "missing_required_parameter")
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            self = .invalidRequest("Invalid type for '\(field.isEmpty ? "body" : field)': expected \(Self.jsonTypeName(type)).", param: field.isEmpty ? nil : field, code: "invalid_type")
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            self = .invalidRequest("Invalid value for '\(field.isEmpty ? "body" : field)': expected \(Self.jsonTypeName(type)), got null.", param: field.isEmpty ? nil : field, code: "invalid_type")
        @unknown default:
            self = .invalidJSON("unreadable body")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type, is Float.Type, is Int64.Type: "a number"
        case is [Any].Type: "an array"
        default: "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

extension KeyedDecodingContainer {
    /// Throws a `dataCorrupted` error at `key`, so the client learns which field is wrong.
    func invalid(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: message)
    }
}
