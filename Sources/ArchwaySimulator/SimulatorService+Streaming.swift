import ArchwayCore
import Hummingbird
import HTTPTypes
import NIOCore

extension SimulatorService {
    /// Thrown from a stream's body writer to end the response without its terminating chunk,
    /// which makes the server close the connection: a stream broken mid-way.
    struct SimulatedStreamBreak: Error {}

    /// A streamed answer. Headers go out at once; then, after the time to first token, the steps
    /// paced at the token rate, then the wire's closing events — unless `x-simulator-break-after` cuts it.
    /// How each stream ends is counted in the state's stream statistics (`GET /_simulator/stats`).
    func streamResponse(
        steps: [SimulatedCompletion.StreamStep],
        encoder: some SimulatedStreamEncoder,
        options: SimulatorRequestOptions,
        headers: HTTPFields
    ) -> Response {
        var headers = headers
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let state = self.state
        let body = ResponseBody { writer in
            state.streamStarted()
            // Every started stream is counted once more, as completed, broken or cancelled.
            var counted = false
            do {
                var encoder = encoder
                try await Self.pause(options.timeToFirstToken)
                var tokens = 0
                if options.breakAfter == 0 { try await Self.breakStream() }
                for step in steps {
                    if step.isToken, tokens > 0 { try await Self.pause(options.tokenInterval) }
                    var buffer = ByteBuffer()
                    try encoder.encode(step.chunk, into: &buffer)
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                    if step.isToken {
                        tokens += 1
                        if tokens == options.breakAfter { try await Self.breakStream() }
                    }
                }
                // Asked to break but the answer was shorter: still break, before the closing events.
                if options.breakAfter != nil { try await Self.breakStream() }
                var buffer = ByteBuffer()
                try encoder.finish(into: &buffer)
                try await writer.write(buffer)
                // The end marker is out: whatever happens to the connection now, the stream completed.
                state.streamEnded(.completed)
                counted = true
                try await writer.finish(nil)
            } catch {
                // Anything but the deliberate break means the client went away: a write failed, or the
                // task was cancelled (Task.sleep throws CancellationError) before the end marker.
                if !counted { state.streamEnded(error is SimulatedStreamBreak ? .broken : .cancelled) }
                throw error
            }
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    private static func breakStream() async throws -> Never {
        // A moment for the bytes already written to leave the socket before the connection is torn down.
        try await Task.sleep(for: .milliseconds(20))
        throw SimulatedStreamBreak()
    }
}
