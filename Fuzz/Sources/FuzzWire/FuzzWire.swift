import ArchwayCore
import ArchwayWire
import Foundation
import NIOCore

/// One libFuzzer input through everything that reads client or provider bytes: the request decoders,
/// the byte relay's rewriter, the answer and chunk scanners, the SSE parser and the Anthropic stream
/// decoder. A crash or a broken invariant (a trap) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
    if let body = try? WireJSON.clientBody(bytes) {
        clientRequests(body)
    }
    providerAnswers(bytes)
    streams(bytes)
    return 0
}

/// What a client sends: decoding fails only with a `GatewayError`; what decodes can be sent on.
func clientRequests(_ body: ByteBuffer) {
    if let chat = try? OpenAIChatRequest.decode(from: body) {
        // The relay either rewrites the bytes into JSON naming the upstream model, or refuses (and the
        // adapter then encodes the decoded request).
        if let upstream = try? OpenAIPassthrough.upstreamBody(WireBytes(bytes: body), model: "fuzz-model", stream: chat.stream) {
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: upstream)) as? [String: Any]
            precondition(object?["model"] as? String == "fuzz-model", "relay rewrote into something else")
        }
        _ = try? WireJSON.encode(OpenAIChatRequest(chat))
        _ = try? WireJSON.encode(AnthropicMessagesRequest(chat))
    }
    if let anthropic = try? WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: body) {
        _ = try? WireJSON.encode(OpenAIChatRequest(anthropic.request))
        if let upstream = try? AnthropicPassthrough.upstreamBody(WireBytes(bytes: body, format: .anthropic), model: "fuzz-model") {
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: upstream)) as? [String: Any]
            precondition(object?["model"] as? String == "fuzz-model", "Anthropic relay rewrote into something else")
        }
    }
}

/// What a provider answers: the scanners keep the bytes and find every `model` to rename.
func providerAnswers(_ body: ByteBuffer) {
    if let answer = try? OpenAIPassthrough.response(body), let wire = answer.wire {
        var out = ByteBuffer()
        OpenAIPassthrough.write(wire, model: "m", into: &out)
        precondition(out.readableBytes >= wire.bytes.readableBytes - wire.modelRanges.reduce(0) { $0 + $1.count }, "lost bytes")
    }
    if let chunk = try? OpenAIPassthrough.chunk(body), let wire = chunk.wire {
        var out = ByteBuffer()
        OpenAIPassthrough.write(wire, model: "m", droppingUsage: true, into: &out)
    }
    if let answer = try? AnthropicPassthrough.response(body), let wire = answer.wire {
        var out = ByteBuffer()
        OpenAIPassthrough.write(wire, model: "m", into: &out)
    }
}

/// A provider's stream, split at an arbitrary point.
func streams(_ bytes: ByteBuffer) {
    var parser = SSEParser()
    let cut = bytes.readableBytes / 2
    parser.append(bytes.getSlice(at: bytes.readerIndex, length: cut) ?? ByteBuffer())
    parser.append(bytes.getSlice(at: bytes.readerIndex + cut, length: bytes.readableBytes - cut) ?? ByteBuffer())
    var anthropic = AnthropicStreamDecoder()
    var events = 0
    while let raw = parser.nextRawEvent(), events < 10_000 {
        events += 1
        // Relayed as bytes: the event reads back as the same event, its model renamed in place.
        var relayed = ByteBuffer()
        OpenAIPassthrough.write(AnthropicPassthrough.event(raw), model: "m", into: &relayed)
        var again = SSEParser()
        again.append(relayed)
        let back = again.nextRawEvent()
        precondition(back != nil && (raw.event == nil || back?.event == raw.event), "a relayed event reads back as another")
        precondition(again.nextRawEvent() == nil, "a relayed event reads back as two")
        let event = ServerSentEvent(raw)
        if case .chunk(let chunk)? = try? anthropic.decode(event) { reencode(chunk) }
        if let chunk = try? OpenAIPassthrough.chunk(ByteBuffer(string: event.data)) { reencode(chunk.value) }
    }
}

/// A chunk read from a provider, written back out as the gateway writes chunks and events without
/// Codable: the JSON must read back with the same text and tool arguments, whatever the text holds.
func reencode(_ chunk: ChatChunk) {
    var openAI = ByteBuffer()
    OpenAIChatChunk.write(chunk, into: &openAI)
    guard let back = try? OpenAIPassthrough.chunk(openAI).value else { preconditionFailure("unreadable chunk: \(String(buffer: openAI))") }
    precondition(back.id == chunk.id && back.model == chunk.model && back.choices.count == chunk.choices.count, "chunk changed")
    for (written, read) in zip(chunk.choices, back.choices) {
        precondition(written.content == read.content, "content changed")
        precondition(written.toolCalls.map(\.arguments) == read.toolCalls.map(\.arguments), "tool arguments changed")
    }
    var encoder = AnthropicStreamEncoder(model: "m")
    var events = ByteBuffer()
    try? encoder.encode(chunk, into: &events)
    var parser = SSEParser()
    parser.append(events)
    var decoder = AnthropicStreamDecoder()
    var text = ""
    while let event = parser.nextEvent() {
        guard let action = try? decoder.decode(event) else { preconditionFailure("unreadable event: \(event.data)") }
        if case .chunk(let decoded) = action { text += decoded.choices.first?.content ?? "" }
    }
    let sent = chunk.choices.first { $0.index == 0 }?.content ?? ""
    precondition(text == sent, "text changed")
}
