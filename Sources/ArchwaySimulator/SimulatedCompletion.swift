import ArchwayCore
import Foundation

/// The answer the simulator gives to one chat request, decided up front so that the non-streamed
/// document, the stream and the usage numbers always agree.
struct SimulatedCompletion: Sendable {
    enum Output: Sendable {
        /// The answer text cut into streamable pieces (one word each); joined they give the content.
        case text(pieces: [String])
        case toolCall(ToolCall)
    }

    /// Longest answer in words; shorter when `max_tokens` cuts it.
    static let maxWords = 24
    static let minWords = 12

    var output: Output
    var finishReason: FinishReason
    /// The request's stop sequence the answer was cut at, if any.
    var stopSequence: String?
    var usage: Usage

    /// - Parameters:
    ///   - seed: the simulator's seed (settings or `x-simulator-seed`).
    ///   - toolCallPrefix: how the wire spells tool call ids (`call_sim_`, `toolu_sim_`).
    ///   - model: the model asked, and `quality`, the share of its answers that are the reference
    ///     answer. Every model gives the same reference answer to a request; with probability
    ///     1 − quality (drawn from the seed, the request and the model, so deterministic) the answer is
    ///     another text instead, as a model that drifted would give.
    ///   - Stop sequences (`stop`, `stop_sequences`) cut a text answer before the first of them it
    ///     contains, as providers do: the sequence is not part of the answer.
    init(request: ChatRequest, seed: UInt64, toolCallPrefix: String, model: String = "", quality: Double = 1, echo: Bool = false) throws(GatewayError) {
        try self.init(unstopped: request, seed: seed, toolCallPrefix: toolCallPrefix, model: model, quality: quality, echo: echo)
        if let sequences = request.stop { stop(at: sequences) }
    }

    private init(unstopped request: ChatRequest, seed: UInt64, toolCallPrefix: String, model: String, quality: Double, echo: Bool) throws(GatewayError) {
        var derived = Self.derivedSeed(request: request, seed: seed)
        if quality < 1 {
            var hasher = FNV1a()
            hasher.combine(model)
            let drifted = SplitMix64.mix(derived ^ SplitMix64.mix(hasher.value))
            var draw = SplitMix64(seed: drifted)
            if draw.nextUnit() >= quality { derived = drifted }
        }
        var random = SplitMix64(seed: derived)
        let inputTokens = TokenEstimator.estimate(request.messages)

        if let tool = try Self.toolToCall(request) {
            let call = ToolCall(
                id: toolCallPrefix + random.next().paddedHex,
                name: tool.name,
                arguments: ToolArguments.json(for: tool.parameters)
            )
            output = .toolCall(call)
            finishReason = .toolCalls
            usage = Usage(inputTokens: inputTokens, outputTokens: max(1, TokenEstimator.estimate(call.name + call.arguments)))
            return
        }

        if echo, let last = request.messages.last(where: { $0.role == .user }) {
            // "You said: …", in word pieces so streams split it.
            let text = "You said: " + last.text
            output = .text(pieces: Self.pieces(of: text))
            finishReason = .stop
            usage = Usage(inputTokens: inputTokens, outputTokens: max(1, TokenEstimator.estimate(text)))
            return
        }
        if let schema = SimulatedJSON.schema(of: request) {
            // A document that fits the schema, cut into streamable pieces at its spaces.
            let document = SimulatedJSON.value(for: schema, random: &random)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let text = (try? encoder.encode(document)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            output = .text(pieces: Self.pieces(of: text))
            finishReason = .stop
            usage = Usage(inputTokens: inputTokens, outputTokens: max(1, TokenEstimator.estimate(text)))
            return
        }

        let natural = Self.minWords + random.nextIndex(below: Self.maxWords - Self.minWords + 1)
        let count = max(1, min(natural, request.maxTokens ?? natural))
        var pieces: [String] = []
        pieces.reserveCapacity(count)
        for index in 0..<count {
            let word = WordList.words[random.nextIndex(below: WordList.words.count)]
            pieces.append(index == 0 ? word.prefix(1).uppercased() + word.dropFirst() : " " + word)
        }
        pieces[pieces.count - 1] += "."
        if request.outputType == "json" {
            // Words never need escaping, so the pieces can be wrapped without re-encoding.
            pieces[0] = #"{"answer":""# + pieces[0]
            pieces[pieces.count - 1] += #""}"#
        }
        output = .text(pieces: pieces)
        finishReason = count < natural ? .length : .stop
        usage = Usage(inputTokens: inputTokens, outputTokens: count)
    }

    /// Cuts a text answer before the earliest of `sequences` it contains.
    mutating func stop(at sequences: [String]) {
        guard case .text(let pieces) = output else { return }
        let text = pieces.joined()
        var earliest: (at: String.Index, sequence: String)?
        for sequence in sequences where !sequence.isEmpty {
            guard let range = text.range(of: sequence) else { continue }
            if earliest.map({ range.lowerBound < $0.at }) ?? true { earliest = (range.lowerBound, sequence) }
        }
        guard let earliest else { return }
        let kept = String(text[..<earliest.at])
        output = .text(pieces: Self.pieces(of: kept))
        finishReason = .stop
        stopSequence = earliest.sequence
        // The share of the answer's tokens the kept text is (a word answer counts a token a word).
        let share = Double(kept.count) / Double(max(text.count, 1))
        usage.outputTokens = kept.isEmpty ? 0 : max(1, Int((Double(usage.outputTokens) * share).rounded()))
    }

    /// A text cut before each space, so a stream sends it a word at a time and joined it is the text.
    static func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            if character == " ", !current.isEmpty {
                pieces.append(current)
                current = ""
            }
            current.append(character)
        }
        pieces.append(current)
        return pieces
    }

    /// The whole answer as one assistant message.
    var message: ChatMessage {
        switch output {
        case .text(let pieces): .text(.assistant, pieces.joined())
        case .toolCall(let call): ChatMessage(role: .assistant, content: [], toolCalls: [call])
        }
    }

    /// Mixes the simulator seed with a stable hash of the conversation (and the client's own `seed`),
    /// so equal requests get equal answers and any change of seed or prompt changes them.
    static func derivedSeed(request: ChatRequest, seed: UInt64) -> UInt64 {
        var hasher = FNV1a()
        for message in request.messages {
            hasher.combine(message.role.rawValue)
            for part in message.content {
                switch part {
                case .text(let text): hasher.combine(text)
                case .imageURL(let url, _): hasher.combine(url)
                case .other: hasher.combine("other")
                }
            }
            for call in message.toolCalls {
                hasher.combine(call.id)
                hasher.combine(call.name)
                hasher.combine(call.arguments)
            }
            hasher.combine(message.toolCallID ?? "")
        }
        if let clientSeed = request.seed { hasher.combine(UInt64(bitPattern: Int64(clientSeed))) }
        return SplitMix64.mix(seed ^ SplitMix64.mix(hasher.value))
    }

    /// The tool to call, or nil for a text answer: tools are offered, tool use is not switched off,
    /// and the conversation is not already answering a call (a tool result since the last assistant turn).
    static func toolToCall(_ request: ChatRequest) throws(GatewayError) -> ToolDefinition? {
        guard let tools = request.tools, let first = tools.first, request.toolChoice != ToolChoice.none else { return nil }
        let sinceAssistant = request.messages.reversed().prefix { $0.role != .assistant }
        if sinceAssistant.contains(where: { $0.role == .tool }) { return nil }
        if case .function(let name) = request.toolChoice {
            guard let named = tools.first(where: { $0.name == name }) else {
                throw .invalidRequest("tool_choice names '\(name)', which is not among the tools.", param: "tool_choice")
            }
            return named
        }
        return first
    }
}

extension SimulatedCompletion {
    /// The non-streamed answer in canonical form, which each wire's codec then writes.
    func response(id: String, model: String, created: Int, systemFingerprint: String? = nil) -> ChatResponse {
        ChatResponse(
            id: id,
            model: model,
            created: created,
            choices: [ChatResponse.Choice(index: 0, message: message, finishReason: finishReason, stopSequence: stopSequence)],
            usage: usage,
            systemFingerprint: systemFingerprint
        )
    }
}
