import ArchwayCore
import HTTPTypes
import Hummingbird

extension Router where Context == GatewayRequestContext {
    /// The methods a path may be asked with that the gateway answers 405 to when it does not serve them.
    /// `CONNECT` carries no path, and `HEAD` of a path served with `GET` is `GET`'s answer without its body
    /// (the router's `autoGenerateHeadEndpoints`).
    static var answeredMethods: [HTTPRequest.Method] { [.get, .head, .post, .put, .patch, .delete, .options, .trace] }

    /// Answers every method a registered path is not served with as 405 `method_not_allowed`, with an
    /// `Allow` header, instead of the router's 404 `unknown_url`: a client that sent `GET` to
    /// `/v1/chat/completions` learns that the path is right and the method wrong. Call it once every route
    /// is registered, with the middleware already added, so these answers get spans and metrics too.
    func answerUnservedMethods() {
        var served: [String: (path: RouterPath, methods: Set<HTTPRequest.Method>)] = [:]
        for route in routes {
            served[route.path.description, default: (route.path, [])].methods.insert(route.method)
        }
        for (path, methods) in served.values {
            var allowed = methods
            if allowed.contains(.get) { allowed.insert(.head) }
            let allow = Self.answeredMethods.filter(allowed.contains).map(\.rawValue).joined(separator: ", ")
            for method in Self.answeredMethods where !allowed.contains(method) {
                on(path, method: method) { request, _ in
                    var response = GatewayError.methodNotAllowed(request.method.rawValue, path: request.uri.path, allowed: allow)
                        .response(anthropicEnvelope: request.uri.path == "/v1/messages")
                    response.headers[.allow] = allow
                    return response
                }
            }
        }
    }
}
