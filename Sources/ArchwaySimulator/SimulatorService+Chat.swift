import ArchwayCore
import ArchwayWire
import Hummingbird

extension SimulatorService {
    /// `POST /v1/chat/completions` on the OpenAI wire.
    func chatCompletions(_ request: Request, context: some RequestContext) async throws -> Response {
        try await simulate(
            request,
            context: context,
            errorShape: .openAI,
            decode: { buffer throws(GatewayError) in try WireJSON.decodeRequest(OpenAIChatRequest.self, from: buffer).request },
            model: \.model
        ) { chat, call in
            let completion = try SimulatedCompletion(request: chat, seed: call.options.seed, toolCallPrefix: "call_sim_", model: chat.model, quality: call.options.quality, echo: call.options.echo)
            let id = "chatcmpl-sim-" + call.idSuffix
            let created = currentUnixSeconds()
            let headers = successHeaders(tokens: completion.usage.totalTokens, call: call)
            if chat.stream {
                let steps = completion.streamSteps(
                    id: id, model: chat.model, created: created, usageOnFirstChunk: false, usageChunk: chat.includeUsage
                )
                return streamResponse(steps: steps, encoder: OpenAIStreamEncoding(), options: call.options, headers: headers)
            }
            try await Self.pause(call.options.latency)
            let response = completion.response(id: id, model: chat.model, created: created, systemFingerprint: "fp_archway_sim")
            return try jsonResponse(OpenAIChatResponse(response), headers: headers)
        }
    }
}
