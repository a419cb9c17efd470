@_spi(Testing) import ArchwayProviders
import FuzzSupport
import Dispatch

/// One libFuzzer input as an upstream's bytes through one exchange of Archway's HTTP/1.1 client: NIO's
/// decoder and the connection handler's state machine. The first byte sets how the rest is split into
/// reads. Whatever arrives, the caller gets exactly one answer, a body it was given ends with its bytes or
/// an `UpstreamConnectionError`, a body wanted whole ends as the streamed one does, and nothing traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUpstream(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let pieces = inputPieces(start, count) else { return 0 }
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: UpstreamConnectionReplay.Outcome?
    nonisolated(unsafe) var collected: UpstreamConnectionReplay.Outcome?
    Task {
        outcome = try? await UpstreamConnectionReplay.replay(pieces)
        collected = try? await UpstreamConnectionReplay.replay(pieces, collectLimit: 1 << 20)
        done.signal()
    }
    done.wait()
    guard let outcome, let collected else { fatalError("the replay could not set up its channel") }
    precondition(collected == outcome, "the body wanted whole ended otherwise than the streamed one")
    precondition(outcome.answered, "the caller got no answer, or more than one")
    precondition((outcome.status != nil) != (outcome.headError != nil), "both a head and an error, or neither")
    precondition(!outcome.foreignError, "an error that is not an UpstreamConnectionError reached the caller")
    if outcome.status != nil {
        precondition((outcome.body != nil) != (outcome.bodyError != nil), "a body that neither ended nor failed")
    }
    return 0
}
