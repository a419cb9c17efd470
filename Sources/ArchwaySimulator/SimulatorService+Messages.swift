import ArchwayCore
import ArchwayWire
import Hummingbird

extension SimulatorService {
    /// `POST /v1/messages` on the Anthropic wire.
    func messages(_ request: Request, context: some RequestContext) async throws -> Response {
        try await simulate(
            request,
            context: context,
            errorShape: .anthropic,
            decode: { buffer throws(GatewayError) in try WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: buffer).request },
            model: \.model
        ) { chat, call in
            let completion = try SimulatedCompletion(request: chat, seed: call.options.seed, toolCallPrefix: "toolu_sim_", model: chat.model, quality: call.options.quality, echo: call.options.echo)
            let id = "msg_sim_" + call.idSuffix
            let created = currentUnixSeconds()
            let headers = successHeaders(tokens: completion.usage.totalTokens, call: call)
            if chat.stream {
                // message_start reports the input tokens; message_delta the final usage.
                let steps = completion.streamSteps(id: id, model: chat.model, created: created, usageOnFirstChunk: true, usageChunk: true)
                return streamResponse(steps: steps, encoder: AnthropicStreamEncoder(model: chat.model), options: call.options, headers: headers)
            }
            try await Self.pause(call.options.latency)
            let response = completion.response(id: id, model: chat.model, created: created)
            return try jsonResponse(AnthropicMessagesResponse(response), headers: headers)
        }
    }
}
