public import ArchwayConfig
public import Hummingbird

/// The simulated upstream: OpenAI chat and embeddings, Anthropic messages, a model list, a request log
/// and stream statistics, sharing one state. Add it to any Hummingbird router, or use ``Simulator`` for
/// a ready one.
public struct SimulatorService: Sendable {
    /// The defaults; each request may override them with `x-simulator-*` headers.
    public let settings: SimulatorSettings
    let state = SimulatorState()

    public init(settings: SimulatorSettings) {
        self.settings = settings
    }

    /// Registers the simulator's endpoints on `router`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("/v1/chat/completions") { request, context in
            try await self.chatCompletions(request, context: context)
        }
        router.post("/v1/messages") { request, context in
            try await self.messages(request, context: context)
        }
        router.post("/v1/embeddings") { request, context in
            try await self.embeddings(request, context: context)
        }
        router.get("/v1/models") { request, _ in
            self.models(request)
        }
        router.get("/_simulator/requests") { request, _ in
            self.requestLog(request)
        }
        router.delete("/_simulator/requests") { request, _ in
            self.clearRequestLog(request)
        }
        router.get("/_simulator/stats") { request, _ in
            self.stats(request)
        }
        router.put("/_simulator/models/:model") { request, context in
            try await self.setModelProfile(request, context: context)
        }
        router.delete("/_simulator/models/:model") { _, context in
            self.clearModelProfile(context: context)
        }
    }

    /// The last requests received (at most 100), oldest first.
    public func recordedRequests() -> [RecordedRequest] {
        state.recordedRequests()
    }

    public func clearRecordedRequests() {
        state.clearLog()
    }

    /// How the streams served so far ended (the `streams` object of `GET /_simulator/stats`).
    public func streamStats() -> SimulatorStreamStats {
        state.streamStats()
    }
}
