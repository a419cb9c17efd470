public import ArchwayCore

/// Turns Anthropic stream events into canonical chunks. A value-type state machine: feed it each
/// event, it returns the chunk to forward (if any) and remembers what later events refer back to.
public struct AnthropicStreamDecoder: Sendable {
    public enum Action: Sendable {
        case chunk(ChatChunk)
        case skip
        /// `message_stop`: the stream completed.
        case finished
    }

    private var id = ""
    private var model = ""
    private var usage = Usage(inputTokens: 0, outputTokens: 0)
    private var toolIndexByBlock: [Int: Int] = [:]
    /// Tool blocks whose arguments have not begun: one that ends so (a tool called without arguments)
    /// gets `{}`, as OpenAI sends, not an empty string no JSON parser reads.
    private var toolBlocksWithoutArguments: Set<Int> = []
    /// `message_start`'s input tokens not read from the cache, to which the cache counts add.
    private var uncachedInputTokens = 0
    private var created = 0

    public init() {}

    /// The provider's failure report inside a stream (`event: error`).
    public struct StreamError: Error, Sendable {
        public var type: String
        public var message: String
    }

    /// Reads one event. The JSON is read where it lies (`JSONScanner`), not decoded into a value tree:
    /// a stream has an event per token.
    public mutating func decode(_ event: ServerSentEvent) throws -> Action {
        var data = event.data
        return try data.withUTF8 { utf8 in
            try decode(JSONScanner(UnsafeRawBufferPointer(utf8)), eventName: event.event)
        }
    }

    private mutating func decode(_ scanner: JSONScanner, eventName: String?) throws -> Action {
        // The top-level members the event types use, in one pass.
        var type: String?
        var blockIndex = 0
        var message: Range<Int>?
        var contentBlock: Range<Int>?
        var delta: Range<Int>?
        var usageRange: Range<Int>?
        var error: Range<Int>?
        try scanner.forEachMember(of: try scanner.value(at: 0)) { member in
            if scanner.key(of: member, is: "type") {
                type = scanner.string(member.value)
            } else if scanner.key(of: member, is: "index") {
                blockIndex = scanner.int(member.value) ?? 0
            } else if scanner.key(of: member, is: "message") {
                message = scanner.object(member.value)
            } else if scanner.key(of: member, is: "content_block") {
                contentBlock = scanner.object(member.value)
            } else if scanner.key(of: member, is: "delta") {
                delta = scanner.object(member.value)
            } else if scanner.key(of: member, is: "usage") {
                usageRange = scanner.object(member.value)
            } else if scanner.key(of: member, is: "error") {
                error = scanner.object(member.value)
            }
        }
        switch type ?? eventName ?? "" {
        case "message_start":
            id = ""
            model = ""
            created = currentUnixSeconds()
            if let message {
                try scanner.forEachMember(of: message) { member in
                    if scanner.key(of: member, is: "id") {
                        id = scanner.string(member.value) ?? ""
                    } else if scanner.key(of: member, is: "model") {
                        model = scanner.string(member.value) ?? ""
                    } else if scanner.key(of: member, is: "usage"), let fields = scanner.object(member.value) {
                        usage = try scanner.anthropicUsage(fields)
                        uncachedInputTokens = usage.inputTokens - (usage.cacheReadTokens ?? 0) - (usage.cacheCreationTokens ?? 0)
                    }
                }
            }
            return .chunk(chunk([ChatChunk.Choice(role: .assistant, content: "")]))
        case "content_block_start":
            guard let contentBlock else { return .skip }
            switch try scanner.member("type", of: contentBlock, scanner.string) {
            case "tool_use":
                let toolIndex = toolIndexByBlock.count
                toolIndexByBlock[blockIndex] = toolIndex
                // Anthropic starts a block with `input: {}` and streams the arguments; a compatible server
                // may give them whole here instead, with no deltas after.
                var arguments = ""
                if let input = try scanner.member("input", of: contentBlock, { scanner.object($0) }) {
                    var members = 0
                    try scanner.forEachMember(of: input) { _ in members += 1 }
                    if members > 0 { arguments = String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[input]), as: UTF8.self) }
                }
                if arguments.isEmpty { toolBlocksWithoutArguments.insert(blockIndex) }
                let delta = ChatChunk.ToolCallDelta(
                    index: toolIndex,
                    id: try scanner.member("id", of: contentBlock, scanner.string),
                    name: try scanner.member("name", of: contentBlock, scanner.string),
                    arguments: arguments
                )
                return .chunk(chunk([ChatChunk.Choice(toolCalls: [delta])]))
            case "text":
                if let text = try scanner.member("text", of: contentBlock, scanner.string), !text.isEmpty {
                    return .chunk(chunk([ChatChunk.Choice(content: text)]))
                }
                return .skip
            default:
                return .skip
            }
        case "content_block_delta":
            guard let delta else { return .skip }
            var kind: String?
            var text: String?
            try scanner.forEachMember(of: delta) { member in
                if scanner.key(of: member, is: "type") {
                    kind = scanner.string(member.value)
                } else if scanner.key(of: member, is: "text") || scanner.key(of: member, is: "partial_json") {
                    text = scanner.string(member.value)
                }
            }
            switch kind {
            case "text_delta":
                return .chunk(chunk([ChatChunk.Choice(content: text ?? "")]))
            case "input_json_delta":
                guard let toolIndex = toolIndexByBlock[blockIndex] else { return .skip }
                if let text, !text.isEmpty { toolBlocksWithoutArguments.remove(blockIndex) }
                let call = ChatChunk.ToolCallDelta(index: toolIndex, arguments: text ?? "")
                return .chunk(chunk([ChatChunk.Choice(toolCalls: [call])]))
            default:
                return .skip
            }
        case "content_block_stop":
            guard toolBlocksWithoutArguments.remove(blockIndex) != nil, let toolIndex = toolIndexByBlock[blockIndex] else { return .skip }
            return .chunk(chunk([ChatChunk.Choice(toolCalls: [ChatChunk.ToolCallDelta(index: toolIndex, arguments: "{}")])]))
        case "message_delta":
            if let usageRange {
                // Cumulative counts: each one given replaces what `message_start` said.
                if let output = try scanner.member("output_tokens", of: usageRange, scanner.int) { usage.outputTokens = output }
                if let input = try scanner.member("input_tokens", of: usageRange, scanner.int) { uncachedInputTokens = input }
                if let read = try scanner.member("cache_read_input_tokens", of: usageRange, scanner.int) { usage.cacheReadTokens = read }
                if let written = try scanner.member("cache_creation_input_tokens", of: usageRange, scanner.int) { usage.cacheCreationTokens = written }
                usage.inputTokens = uncachedInputTokens + (usage.cacheReadTokens ?? 0) + (usage.cacheCreationTokens ?? 0)
            }
            if let delta, let reason = try scanner.member("stop_reason", of: delta, scanner.string) {
                let sequence = reason == "stop_sequence" ? try scanner.member("stop_sequence", of: delta, scanner.string) : nil
                return .chunk(chunk([ChatChunk.Choice(finishReason: FinishReason(anthropic: reason), stopSequence: sequence)]))
            }
            return .skip
        case "message_stop":
            return .finished
        case "error":
            throw StreamError(
                type: try error.flatMap { try scanner.member("type", of: $0, scanner.string) } ?? "api_error",
                message: try error.flatMap { try scanner.member("message", of: $0, scanner.string) } ?? "stream error"
            )
        default:
            return .skip
        }
    }

    /// The usage chunk to send after `message_stop`, in the OpenAI convention (no choices).
    public var usageChunk: ChatChunk {
        ChatChunk(id: id, model: model, created: created, choices: [], usage: usage)
    }

    private func chunk(_ choices: [ChatChunk.Choice]) -> ChatChunk {
        ChatChunk(id: id, model: model, created: created, choices: choices)
    }
}

extension JSONScanner {
    /// `range` if it holds an object (not null, a string or a number).
    func object(_ range: Range<Int>) -> Range<Int>? {
        range.isEmpty || bytes[range.lowerBound] != UInt8(ascii: "{") ? nil : range
    }

    /// Anthropic's `usage` object: `input_tokens` excludes the cached part, which the canonical count
    /// includes.
    func anthropicUsage(_ range: Range<Int>) throws -> Usage {
        var uncached = 0
        var usage = Usage(inputTokens: 0, outputTokens: 0)
        try forEachMember(of: range) { member in
            if key(of: member, is: "input_tokens") {
                uncached = int(member.value) ?? 0
            } else if key(of: member, is: "output_tokens") {
                usage.outputTokens = int(member.value) ?? 0
            } else if key(of: member, is: "cache_read_input_tokens") {
                usage.cacheReadTokens = int(member.value)
            } else if key(of: member, is: "cache_creation_input_tokens") {
                usage.cacheCreationTokens = int(member.value)
            }
        }
        usage.inputTokens = uncached + (usage.cacheReadTokens ?? 0) + (usage.cacheCreationTokens ?? 0)
        return usage
    }
}
