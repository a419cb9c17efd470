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
        var paths: [(path: RouterPath, allow: String)] = []
        for (path, methods) in served.values {
            var allowed = methods
            if allowed.contains(.get) { allowed.insert(.head) }
            let allow = Self.answeredMethods.filter(allowed.contains).map(\.rawValue).joined(separator: ", ")
            paths.append((path, allow))
            for method in Self.answeredMethods where !allowed.contains(method) {
                on(path, method: method) { request, _ in Self.methodNotAllowed(request, allow: allow) }
            }
        }
        // Any other method (WebDAV's `PROPFIND`, `MKCOL`, ..., which SwiftNIO's parser accepts) reaches the
        // router's not-found answer. Added after every route, this middleware wraps only that answer.
        add(middleware: UnservedMethodMiddleware(paths: paths))
    }

    fileprivate static func methodNotAllowed(_ request: Request, allow: String) -> Response {
        var response = GatewayError.methodNotAllowed(request.method.rawValue, path: request.uri.path, allowed: allow)
            .response(anthropicEnvelope: GatewayError.isAnthropicPath(request.uri.path))
        response.headers[.allow] = allow
        return response
    }
}

/// Answers 405 to a request the router found no route for when its path is one the gateway serves: only
/// methods outside `Router.answeredMethods` get here on a served path. Off every served request's way.
struct UnservedMethodMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let paths: [(path: RouterPath, allow: String)]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let components = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard let served = paths.first(where: { Self.matches($0.path, components) }) else {
            return try await next(request, context)
        }
        return Router<Context>.methodNotAllowed(request, allow: served.allow)
    }

    /// Whether a route's path matches a request's, segment by segment as the router's own matching
    /// (`RouterPath.Element.~=`) does; a trailing `**` takes one segment or more.
    static func matches(_ route: RouterPath, _ components: [Substring]) -> Bool {
        var index = 0
        for element in route {
            if element == .recursiveWildcard { return index < components.count }
            guard index < components.count, element ~= components[index] else { return false }
            index += 1
        }
        return index == components.count
    }
}
