import ArchwayCore
import ArchwayWire
import Hummingbird
import NIOCore

extension SimulatorService {
    /// Which error document an endpoint answers with.
    enum ErrorShape: Sendable {
        case openAI
        /// The OpenAI document plus Anthropic's top-level `"type":"error"`, so both SDKs read it.
        case anthropic
    }

    /// What an endpoint knows about the call it answers.
    struct Call: Sendable {
        var options: SimulatorRequestOptions
        /// The process-wide sequence number of this call.
        var number: UInt64

        /// A fresh id suffix: unique per call, reproducible for a given seed and call order.
        var idSuffix: String {
            SplitMix64.mix(options.seed ^ SplitMix64.mix(number)).paddedHex
        }
    }

    /// The steps every simulated POST shares: read and decode the body, log the request, apply the
    /// header overrides, maybe inject a failure, then let `answer` respond. Every failure becomes an
    /// error document; only cancellation (the client went away) is passed on.
    func simulate<Body>(
        _ request: Request,
        context: some RequestContext,
        errorShape: ErrorShape,
        decode: (ByteBuffer) throws(GatewayError) -> Body,
        model: (Body) -> String,
        answer: (Body, Call) async throws -> Response
    ) async throws -> Response {
        var entry = RecordedRequest(head: request.head)
        var recorded = false
        do {
            let buffer = try await readBody(request, context: context)
            let body: Body
            do {
                body = try decode(buffer)
            } catch {
                entry.model = Self.probeModel(in: buffer)
                throw error
            }
            entry.model = model(body)
            // Logged before any delay, so the log shows a request while it is still in flight.
            state.record(entry)
            recorded = true
            var options = try SimulatorRequestOptions(settings: settings, headers: request.headers)
            if let modelName = entry.model { state.profile(for: modelName)?.apply(to: &options) }
            let call = Call(options: options, number: state.nextRequestNumber())
            if let failure = injectedFailure(for: call) {
                return failureResponse(failure, call: call, shape: errorShape)
            }
            return try await answer(body, call)
        } catch {
            if !recorded { state.record(entry) }
            if error is CancellationError { throw error }
            let gatewayError = error as? GatewayError ?? .internalError("The simulator failed: \(type(of: error))")
            return errorResponse(gatewayError, shape: errorShape)
        }
    }

    func readBody(_ request: Request, context: some RequestContext) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw GatewayError.payloadTooLarge(limit: context.maxUploadSize)
        }
    }

    /// The `model` of a body that failed to decode, for the request log.
    static func probeModel(in buffer: ByteBuffer) -> String? {
        (try? WireJSON.decoder.decode(JSONValue.self, from: buffer))?["model"]?.stringValue
    }
}
