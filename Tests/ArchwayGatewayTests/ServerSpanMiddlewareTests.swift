@testable import ArchwayGateway
import Testing

@Suite("The SERVER span's name")
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
}
