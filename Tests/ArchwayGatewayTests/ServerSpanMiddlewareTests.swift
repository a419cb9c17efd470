@testable import ArchwayGateway
import Testing

@Suite("The SERVER span")
struct ServerSpanMiddlewareTests {
    /// The model routes' names are constants; they must be exactly what the conventions' interpolation gives,
    /// for every method and route, including routes without a constant and requests no route matched.
    @Test(arguments: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])
    func namesAreMethodAndRoute(method: String) {
        let routes = [
            "/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/workflows/{name}/runs",
            "/v1/models", "/v1/workflows", "/admin/routing", "/v1/chat",
        ]
        for route in routes {
            #expect(ServerSpanMiddleware.spanName(method: method, route: route) == "\(method) \(route)")
        }
        #expect(ServerSpanMiddleware.spanName(method: method, route: nil) == method)
    }

    @Test func anUnknownMethodIsNamedHTTP() {
        #expect(ServerSpanMiddleware.spanName(method: "_OTHER", route: "/v1/chat/completions") == "HTTP /v1/chat/completions")
        #expect(ServerSpanMiddleware.spanName(method: "_OTHER", route: nil) == "HTTP")
        #expect(ServerSpanMiddleware.conventionalMethod("PROPFIND") == "_OTHER")
    }

    @Test func theForwardedClientIsTheLastEntryWhenItReadsAsAnAddress() {
        #expect(ServerSpanMiddleware.forwardedAddress("10.9.9.9, 203.0.113.7 ") == "203.0.113.7")
        #expect(ServerSpanMiddleware.forwardedAddress("2001:db8::1") == "2001:db8::1")
        #expect(ServerSpanMiddleware.forwardedAddress("spoofed, [2001:db8::1]:443") == "[2001:db8::1]:443")
        #expect(ServerSpanMiddleware.forwardedAddress("client.example") == "client.example")
        #expect(ServerSpanMiddleware.forwardedAddress("") == nil)
        #expect(ServerSpanMiddleware.forwardedAddress("10.0.0.1, ") == nil)
        #expect(ServerSpanMiddleware.forwardedAddress("a b") == nil)
        #expect(ServerSpanMiddleware.forwardedAddress("\u{202E}1.2.3.4") == nil)
        #expect(ServerSpanMiddleware.forwardedAddress(String(repeating: "1", count: 65)) == nil)
    }
}
