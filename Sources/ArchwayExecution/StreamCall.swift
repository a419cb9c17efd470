import ArchwayCore
import ArchwayProviders
import ArchwayRouting
import ArchwayTelemetry
import CoreMetrics
import Synchronization

/// The lifetime of a streamed model call: its outcome so far and the spans to end. Whoever ends it
/// first (the end of the stream, a failure, the reader abandoning it, or the last reference going away)
/// records the outcome; every later end is a no-op.
final class StreamCall: Sendable {
    private struct State: Sendable {
        var outcome: AttemptOutcome
        /// The answer assembled from the chunks, for content capture only.
        var output: ChatResponse?
        var finished = false
        /// When the last chunk with content arrived, and the histogram the gaps between them go to.
        var lastOutput: Duration?
        var chunkGaps: Recorder?
    }

    private let state: Mutex<State>
    private let call: ModelCall
    private let exchange: UpstreamExchange
    private let sink: OutcomeSink
    private let clock: any GatewayClock
    /// Receives the assembled answer of a stream that ended well (a consistency sample).
    private let onAnswer: SampleHandoff?

    init(
        call: ModelCall,
        exchange: UpstreamExchange,
        sink: OutcomeSink,
        clock: any GatewayClock,
        assembleOutput: Bool,
        onAnswer: SampleHandoff? = nil
    ) {
        let output = assembleOutput ? ChatResponse(id: "", model: call.outcome.target.clientModel, created: 0, choices: [], usage: nil) : nil
        self.state = Mutex(State(outcome: call.outcome, output: output))
        self.call = call
        self.exchange = exchange
        self.sink = sink
        self.clock = clock
        self.onAnswer = onAnswer
    }

    /// Folds a chunk into the outcome (and the assembled output when content is captured).
    /// A chunk with content after the first records its gap from the previous one.
    func observe(_ chunk: ChatChunk) {
        let elapsed = call.start.duration(to: clock.now)
        let price = call.price
        let gap: (Duration, Recorder?)? = state.withLock { state in
            let before = state.outcome.outputChunks
            state.outcome.fold(chunk, elapsed: elapsed, price: price)
            state.output?.fold(chunk)
            guard !state.finished, state.outcome.outputChunks > before else { return nil }
            defer { state.lastOutput = elapsed }
            guard let last = state.lastOutput else { return nil }
            return (elapsed - last, state.chunkGaps)
        }
        guard let (duration, known) = gap else { return }
        if let known { return known.record(duration.seconds) }
        // The second chunk: the histogram of this stream's target and response model, once.
        let (target, responseModel) = state.withLock { ($0.outcome.target, $0.outcome.responseModel) }
        let recorder = sink.telemetry.timePerOutputChunk(target, responseModel: responseModel)
        state.withLock { $0.chunkGaps = recorder }
        recorder.record(duration.seconds)
    }

    /// Ends the call: the HTTP span, then the outcome to the sink (which ends the GenAI span). Once.
    func finish(error: GatewayError?) {
        let now = clock.now
        let attempts = call.upstream.attempts.value
        let record: (AttemptOutcome, ChatResponse?)? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            if let error {
                state.outcome.error = error
                state.outcome.finishReasons = [.error]
            }
            state.outcome.duration = call.start.duration(to: now)
            state.outcome.httpAttempts = attempts
            return (state.outcome, state.output)
        }
        guard let (outcome, output) = record else { return }
        call.routeLoad?.leave()
        call.decisions?.spent(outcome.costUSD)
        exchange.end(error: error)
        let captured = sink.telemetry.captureContent
        sink.record(outcome, span: call.span, output: error == nil && captured ? output : nil)
        if error == nil, let output, let onAnswer { onAnswer.deliver(output) }
    }

    /// Ends the call because it was cancelled: its reader left, or its caller cut it (shutdown).
    func cancel() {
        finish(error: call.cancellationError)
    }

    deinit {
        // Released without an end: the reader went away (a client that hung up before its response body
        // started is the usual case). The spans still end, as abandoned by the client.
        finish(error: call.cancellationError)
    }
}

extension AttemptOutcome {
    /// What a chunk says about the call: ids, usage and cost, finish reasons, time to first chunk. The
    /// same whether or not content is captured.
    mutating func fold(_ chunk: ChatChunk, elapsed: Duration, price: ModelPrice?) {
        if responseID == nil, !chunk.id.isEmpty { responseID = chunk.id }
        if responseModel == nil, !chunk.model.isEmpty { responseModel = chunk.model }
        if let usage = chunk.usage {
            self.usage = usage
            if let price { costUSD = price.cost(of: usage) }
        }
        for choice in chunk.choices {
            if let reason = choice.finishReason { finishReasons.append(reason) }
            if !(choice.content ?? "").isEmpty || !choice.toolCalls.isEmpty {
                outputChunks += 1
                if timeToFirstChunk == nil { timeToFirstChunk = elapsed }
            }
        }
    }
}

extension ChatResponse {
    /// Appends a chunk's text, tool-call fragments and finish reasons to the assembled answer.
    mutating func fold(_ chunk: ChatChunk) {
        if id.isEmpty { id = chunk.id }
        if let usage = chunk.usage { self.usage = usage }
        for choice in chunk.choices {
            while choices.count <= choice.index {
                choices.append(.init(index: choices.count, message: ChatMessage(role: .assistant), finishReason: nil))
            }
            if let content = choice.content, !content.isEmpty {
                if case .text(let existing)? = choices[choice.index].message.content.last {
                    choices[choice.index].message.content[choices[choice.index].message.content.count - 1] = .text(existing + content)
                } else {
                    choices[choice.index].message.content.append(.text(content))
                }
            }
            if !choice.toolCalls.isEmpty {
                var calls = choices[choice.index].message.toolCalls
                for delta in choice.toolCalls {
                    while calls.count <= delta.index { calls.append(ToolCall(id: "", name: "", arguments: "")) }
                    if let id = delta.id { calls[delta.index].id = id }
                    if let name = delta.name { calls[delta.index].name = name }
                    calls[delta.index].arguments += delta.arguments ?? ""
                }
                choices[choice.index].message.toolCalls = calls
            }
            if let reason = choice.finishReason { choices[choice.index].finishReason = reason }
        }
    }
}
