import ArchwayCore
import HTTPTypes
import Hummingbird

/// Requires the configured master key (as `Authorization: Bearer …` or `x-api-key`) on every request but
/// the health checks and the Prometheus scrape.
///
/// Decided by the route the router matched, never by the raw path: the router reads `//v1/…` and
/// `/v1//chat/completions` as the routes they resemble, so a check of the path's prefix let them through
/// without the key. A path no route matches needs the key too (its 404 says nothing to a stranger).
struct MasterKeyMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    /// Routes anyone may call: load balancers' and orchestrators' checks, and the scrape.
    static let openRoutes: Set<String> = ["/healthz", "/readyz", "/metrics"]

    let key: [UInt8]

    init(key: String) {
        self.key = Array(key.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let route = context.endpointPath, Self.openRoutes.contains(route) { return try await next(request, context) }
        var presented: Substring?
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
        if let authorization = request.headers[.authorization], authorization.utf8.count > 7,
           authorization.prefix(7).lowercased() == "bearer " {
            presented = authorization.dropFirst(7).drop { $0 == " " }
        } else if let apiKey = request.headers[HTTPField.Name("x-api-key")!] {
            presented = Substring(apiKey)
        }
        guard let presented, Self.constantTimeEquals(Array(presented.utf8), key) else {
            throw GatewayError.unauthorized("Missing or invalid API key. Send the gateway's key as 'Authorization: Bearer <key>'.")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response timing does not reveal how much of a guess was right.
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
        }
        return difference == 0
    }
}
