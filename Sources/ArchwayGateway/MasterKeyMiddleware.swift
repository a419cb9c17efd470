import ArchwayCore
import HTTPTypes
import Hummingbird

/// Requires the configured master key on `/v1/*` and `/admin/*` (as `Authorization: Bearer …` or `x-api-key`).
struct MasterKeyMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let key: [UInt8]

    init(key: String) {
        self.key = Array(key.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") || request.uri.path.hasPrefix("/admin/") else { return try await next(request, context) }
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
