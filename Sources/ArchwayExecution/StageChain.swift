public import ArchwayCore

/// The stages around a call, in order: before-call stages run first to last, after-call stages last to
/// first (the first stage sees the request first and the answer last, as in Envoy's filter chain).
public struct StageChain: Sendable {
    public let stages: [any CallStage]

    public init(_ stages: [any CallStage] = []) {
        self.stages = stages
    }

    public var isEmpty: Bool { stages.isEmpty }

    /// Whether any stage reads the content of calls to `model`.
    public func readsContent(ofCallsTo model: String) -> Bool {
        stages.contains { $0.readsContent(ofCallsTo: model) }
    }

    /// Runs the before-call stages. Returns the answer when a stage answered instead of the model (the
    /// stages after it and the after-call stages do not run then), and the transforms the answer goes
    /// through on its way back (in the order to apply them: the last stage's first).
    func before(_ request: inout Relayable<ChatRequest>, scope: CallScope) async throws -> (answer: ChatResponse?, transforms: [any AnswerTransform]) {
        var transforms: [any AnswerTransform] = []
        for stage in stages {
            switch try await Self.failClosed(stage) { try await stage.beforeCall(request.value, scope: scope) } {
            case .proceed:
                continue
            case .rewrite(let rewritten, let answers):
                request.rewrite { $0 = rewritten }
                if let answers { transforms.insert(answers, at: 0) }
            case .respond(let response):
                return (response, [])
            }
        }
        return (nil, transforms)
    }

    /// Runs the stages on an embeddings request, first to last.
    func beforeEmbeddings(_ request: EmbeddingRequest, scope: CallScope) async throws -> EmbeddingRequest {
        var request = request
        for stage in stages {
            request = try await Self.failClosed(stage) { try await stage.beforeEmbeddings(request, scope: scope) }
        }
        return request
    }

    /// Runs the after-call stages on a non-streamed answer.
    func after(_ answer: inout Relayable<ChatResponse>, request: ChatRequest, scope: CallScope) async throws {
        for stage in stages.reversed() {
            switch try await Self.failClosed(stage) { try await stage.afterCall(answer.value, request: request, scope: scope) } {
            case .proceed:
                continue
            case .rewrite(let rewritten):
                answer.rewrite { $0 = rewritten }
            }
        }
    }

    /// A stage's own failure refuses the call (503 `stage_failed`); its deliberate answers (a
    /// `GatewayError` such as a policy block) and cancellation pass as they are.
    private static func failClosed<Decision>(_ stage: any CallStage, _ body: () async throws -> Decision) async throws -> Decision {
        do {
            return try await body()
        } catch let error as GatewayError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw GatewayError.stageFailed(stage.name)
        }
    }
}
