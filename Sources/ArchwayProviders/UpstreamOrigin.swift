/// Where an upstream's connections go: scheme, host and port. Connections are pooled per origin.
public struct UpstreamOrigin: Hashable, Sendable {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// The `host` header: the port only when it is not the scheme's default.
    let hostHeader: String

    public init(tls: Bool, host: String, port: Int) {
        self.tls = tls
        self.host = host
        self.port = port
        let name = host.contains(":") ? "[\(host)]" : host
        self.hostHeader = port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// The origin and the path prefix of a base URL such as `https://api.openai.com/v1`.
    /// An authority without a port takes the scheme's; IPv6 literals are bracketed.
    public static func parse(_ url: String) -> (origin: UpstreamOrigin, path: String) {
        let tls = url.lowercased().hasPrefix("https://")
        let rest = url.firstRange(of: "://").map { url[$0.upperBound...] } ?? url[...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        let defaultPort = tls ? 443 : 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let port = Int(authority[close...].dropFirst(2)) ?? defaultPort
            return (UpstreamOrigin(tls: tls, host: host, port: port), path)
        }
        let parts = authority.split(separator: ":", maxSplits: 1)
        let host = parts.first.map(String.init) ?? ""
        let port = parts.count > 1 ? Int(parts[1]) ?? defaultPort : defaultPort
        return (UpstreamOrigin(tls: tls, host: host, port: port), path)
    }
}
