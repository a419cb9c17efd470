// The floor the spike is compared with: the thinnest proxy Hummingbird 2 and AsyncHTTPClient's async API
// allow. Every POST path, the request body collected, one upstream call, the answer streamed back.
// `bench-async-floor <listen port> <upstream port>`; measured by `make bench` as `async-floor`.
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

let arguments = CommandLine.arguments
guard arguments.count == 3, let listenPort = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: bench-async-floor <listen port> <upstream port>")
    exit(2)
}

let client = HTTPClient.shared
let router = Router()
router.post("**") { request, context -> Response in
    let body = try await request.body.collect(upTo: 1 << 20)
    var upstream = HTTPClientRequest(url: "http://127.0.0.1:\(upstreamPort)\(request.uri.path)")
    upstream.method = .POST
    upstream.headers.add(name: "content-type", value: "application/json")
    upstream.body = .bytes(body)
    let response = try await client.execute(upstream, timeout: .seconds(30))
    var headers = HTTPFields()
    if let type = response.headers.first(name: "content-type") { headers[.contentType] = type }
    return Response(status: .init(code: Int(response.status.code)), headers: headers, body: ResponseBody(asyncSequence: response.body))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: listenPort)))
try await app.runService()
