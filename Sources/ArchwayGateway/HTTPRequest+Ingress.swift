import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1

extension HTTPRequest {
    /// A client's request head in HTTPTypes, as `HTTPRequest(_:secure:splitCookie:)` of NIOHTTPTypesHTTP1
    /// makes it, plus the keep-alive HTTPTypes cannot say.
    ///
    /// - An HTTP/1.0 request without `Connection: keep-alive` gets `Connection: close`, since HTTPTypes has no
    ///   version: it is then answered, and its connection closed, as HTTP/1.0 clients expect.
    /// - An origin-form target (`/path?query`, what every client sends a server that is not a proxy) is the
    ///   path as it came. The library's conversion parses every target with Foundation's `URLComponents` to
    ///   find a scheme that origin-form cannot have (a Foundation parse and about 35 retains a request).
    ///   Other forms go through that conversion.
    init(ingress head: HTTPRequestHead) throws {
        var head = head
        if !head.isKeepAlive, !head.headers.contains(name: "connection") {
            head.headers.add(name: "connection", value: "close")
        }
        guard head.uri.utf8.first == UInt8(ascii: "/") else {
            try self.init(head, secure: false, splitCookie: false)
            return
        }
        self.init(
            method: try Method(head.method),
            scheme: "http",
            authority: head.headers.first(name: "host"),
            path: head.uri,
            headerFields: HTTPFields(head.headers, splitCookie: false)
        )
    }
}

extension HTTPRequest {
    /// Whether the body comes with a `Content-Encoding` (gzip, say), which the gateway does not decode:
    /// asked only once a body cannot be read, to say why (415 `unsupported_content_encoding`).
    var hasEncodedBody: Bool {
        headerFields[.contentEncoding].map { $0.lowercased() != "identity" } ?? false
    }
}
