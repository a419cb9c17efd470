@testable import ArchwayGateway
import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

@Suite("A client's request head in HTTPTypes")
struct HTTPRequestIngressTests {
    static let targets = [
        "/v1/chat/completions",
        "/v1/models?limit=2&after=x",
        "/",
        "//double/slash",
        "/a%20b/%ZZ?q=%",
        "/v1/chat/completions#fragment",
        "http://example.com/v1/models?limit=2",
        "https://example.com",
        "*",
        "example.com:443",
    ]

    @Test("is what NIOHTTPTypesHTTP1's conversion makes, for every form of target", arguments: targets)
    func sameAsTheLibrary(target: String) throws {
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: ["Host": "gw.example", "content-type": "application/json", "Cookie": "a=1; b=2"])
        let ours = try HTTPRequest(ingress: head)
        let library = try HTTPRequest(head, secure: false, splitCookie: false)
        #expect(ours == library)
        #expect(ours.headerFields == library.headerFields)
    }

    @Test("an absolute-form target becomes its path and query")
    func absoluteForm() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://example.com/v1/models?limit=2", headers: ["Host": "example.com"])
        #expect(try HTTPRequest(ingress: head).path == "/v1/models?limit=2")
    }

    @Test("an origin-form target is kept byte for byte, with the Host header as authority")
    func originForm() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/v1/models?q=a%20b", headers: ["Host": "gw:8080"])
        let request = try HTTPRequest(ingress: head)
        #expect(request.path == "/v1/models?q=a%20b")
        #expect(request.authority == "gw:8080")
        #expect(request.scheme == "http")
        #expect(request.method == .get)
    }

    @Test("HTTP/1.0 without keep-alive says Connection: close; keep-alive and HTTP/1.1 say nothing")
    func keepAlive() throws {
        let closing = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/health", headers: [:])
        #expect(try HTTPRequest(ingress: closing).headerFields[.connection] == "close")
        let keepingAlive = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/health", headers: ["Connection": "keep-alive"])
        #expect(try HTTPRequest(ingress: keepingAlive).headerFields[.connection] == "keep-alive")
        let current = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/health", headers: [:])
        #expect(try HTTPRequest(ingress: current).headerFields[.connection] == nil)
        let absolute = HTTPRequestHead(version: .http1_0, method: .GET, uri: "http://gw/health", headers: [:])
        #expect(try HTTPRequest(ingress: absolute).headerFields[.connection] == "close")
    }

    @Test("a request needs exactly one Host, except HTTP/1.0, which may have none (RFC 9112 §3.2)")
    func hostCount() throws {
        func problem(_ headers: HTTPHeaders, _ version: HTTPVersion = .http1_1) throws -> String? {
            let head = HTTPRequestHead(version: version, method: .GET, uri: "/healthz", headers: headers)
            return IngressHandler.hostProblem(try HTTPRequest(ingress: head), isHTTP10: version == .http1_0)
        }
        #expect(try problem(["Host": "gw"]) == nil)
        #expect(try problem(["Host": "gw"], .http1_0) == nil)
        #expect(try problem([:], .http1_0) == nil)
        #expect(try problem([:]) == "An HTTP/1.1 request needs a Host header.")
        #expect(try problem(["Host": "gw", "Accept": "*/*", "HOST": "other"]) == "A request must not carry more than one Host header.")
        #expect(try problem(["Host": "gw", "host": "gw"], .http1_0) != nil)
        #expect(try problem(["Host": "gw.example:8080"]) == nil)
        #expect(try problem(["Host": "[::1]:8080"]) == nil)
        for invalid in ["a, b", "gw/path", "user@gw", "gw x"] {
            #expect(try problem(["Host": invalid]) == "The Host header is not a valid host and port.", "\(invalid)")
        }
    }
}
