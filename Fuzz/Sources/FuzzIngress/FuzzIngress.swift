@_spi(Testing) import ArchwayGateway
import FuzzSupport

/// One libFuzzer input as a client's bytes through Archway's ingress pipeline: SwiftNIO's HTTP/1.1 server
/// handlers, the HTTPTypes codec and `IngressHandler`. The first byte sets how the rest is split into
/// reads. Whatever arrives, nothing traps, no body handed to the router is over the limit by more than the
/// one byte that lets the route answer 413, and every request handed over got its answer written.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIngress(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let pieces = inputPieces(start, count) else { return 0 }
    let limit = 64
    guard let outcome = try? IngressReplay.replay(pieces, bodyLimit: limit) else { fatalError("the replay could not set up its channel") }
    precondition(outcome.largestBody <= limit + 1, "a body over the limit reached the router")
    precondition(outcome.requests == 0 || outcome.responseBytes > 0, "requests were handed over but nothing was answered")
    return 0
}
