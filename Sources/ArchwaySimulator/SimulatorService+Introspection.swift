import ArchwayCore
import ArchwayWire
import Hummingbird

extension SimulatorService {
    /// The model ids `GET /v1/models` lists. Any model name is accepted anyway.
    static let modelIDs = ["sim-small", "sim-large", "sim-embedding"]

    /// A fixed creation time, so the list is identical on every run.
    static let modelCreated = 1_735_689_600

    /// `GET /v1/models`. Never subject to failure injection: it is what readiness probes poll.
    func models(_ request: Request) -> Response {
        state.record(RecordedRequest(head: request.head))
        let list = OpenAIModelList(data: Self.modelIDs.map { OpenAIModelList.Model(id: $0, created: Self.modelCreated, ownedBy: "archway-simulator") })
        return (try? jsonResponse(list)) ?? errorResponse(.internalError("could not encode the model list"), shape: .openAI)
    }

    /// `GET /_simulator/requests`: the log as it was before this request, oldest first.
    func requestLog(_ request: Request) -> Response {
        let body = RequestLogBody(requests: state.recordedRequests())
        state.record(RecordedRequest(head: request.head))
        return (try? jsonResponse(body)) ?? errorResponse(.internalError("could not encode the request log"), shape: .openAI)
    }

    /// `DELETE /_simulator/requests`: empties the log, so a test can start from a clean slate.
    func clearRequestLog(_ request: Request) -> Response {
        state.clearLog()
        return Response(status: .noContent)
    }

    /// `GET /_simulator/stats`: how the streams served so far ended. Not logged, so that a test
    /// polling it does not push the requests it wants to check out of the log.
    func stats(_ request: Request) -> Response {
        (try? jsonResponse(StatsBody(streams: state.streamStats()))) ?? errorResponse(.internalError("could not encode the stats"), shape: .openAI)
    }

    /// `PUT /_simulator/models/{model}` with a profile (`{"down": true}`, `{"latency_ms": 800}`, …):
    /// that model's calls behave so until it is replaced or deleted.
    func setModelProfile(_ request: Request, context: some RequestContext) async throws -> Response {
        guard let model = context.parameters.get("model") else { return Response(status: .notFound) }
        let buffer = try await readBody(request, context: context)
        do {
            let profile = try WireJSON.decoder.decode(SimulatedModelProfile.self, from: buffer)
            state.setProfile(profile, for: model)
            return try jsonResponse(profile)
        } catch {
            return errorResponse(.invalidJSON("expected a model profile such as {\"down\": true} or {\"latency_ms\": 500}"), shape: .openAI)
        }
    }

    /// `DELETE /_simulator/models/{model}`: the model behaves as the settings say again.
    func clearModelProfile(context: some RequestContext) -> Response {
        if let model = context.parameters.get("model") { state.setProfile(nil, for: model) }
        return Response(status: .noContent)
    }

    struct StatsBody: Encodable {
        var streams: SimulatorStreamStats
    }

    struct RequestLogBody: Encodable {
        var requests: [RecordedRequest]
    }
}
