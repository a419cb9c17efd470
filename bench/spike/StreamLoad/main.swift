// The streams-at-scale load of `make bench-streams` (bench/streams.py): an upstream that streams chat
// completions at a fixed chunk rate, and a client that holds many streams open and measures each chunk's
// delay. Every chunk's text is the microsecond (wall clock) it was sent, so the client reads the delay
// of each chunk however many proxies translated it on the way.
//
//   bench-stream-load upstream <port> <chunks per second> <chunks per stream>
//       POST /openai/v1/chat/completions: OpenAI SSE (chunks, finish, usage, [DONE]);
//       POST /anthropic/v1/messages: Anthropic SSE. A request whose body mentions "tools" streams a
//       tool call's arguments instead of text.
//   bench-stream-load client <port> <path> <streams> <body file> <tools body file> <seconds to open them over>
//       every tenth stream sends the tools body (STREAM_LOAD_AUTHORIZATION, if set, is sent as the
//       authorization header); prints JSON: streams completed and failed, chunks, time to first chunk and chunk delay
//       percentiles (µs).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOConcurrencyHelpers

func nowMicros() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000
}

// MARK: upstream

final class StreamingUpstream: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let rate: Int
    let chunks: Int
    var path = ""
    var tools = false

    init(rate: Int, chunks: Int) {
        self.rate = rate
        self.chunks = chunks
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
            tools = false
        case .body(let body):
            if body.readableBytesView.firstRange(of: Array("\"tools\"".utf8)) != nil { tools = true }
        case .end:
            start(context: context)
        }
    }

    private func start(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/event-stream")
        headers.add(name: "transfer-encoding", value: "chunked")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let sender = StreamSender(channel: context.channel, anthropic: path.hasPrefix("/anthropic"), tools: tools, rate: rate, chunks: chunks)
        sender.begin()
    }
}

/// One response stream: a chunk every 1/rate s on the channel's event loop, then the end.
final class StreamSender: @unchecked Sendable {
    let channel: any Channel
    let anthropic: Bool
    let tools: Bool
    let rate: Int
    let chunks: Int
    var sent = 0

    init(channel: any Channel, anthropic: Bool, tools: Bool, rate: Int, chunks: Int) {
        self.channel = channel
        self.anthropic = anthropic
        self.tools = tools
        self.rate = rate
        self.chunks = chunks
    }

    func send(_ text: String) {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))), promise: nil)
    }

    func begin() {
        if anthropic {
            send(#"event: message_start"# + "\n" + #"data: {"type":"message_start","message":{"id":"msg_load","type":"message","role":"assistant","model":"load","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}"# + "\n\n")
            send(tools
                ? "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"lookup\",\"input\":{}}}\n\n"
                : "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
        }
        tick()
    }

    func tick() {
        guard channel.isActive else { return }
        let stamp = nowMicros()
        if sent < chunks {
            sent += 1
            if anthropic {
                send(tools
                    ? "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\(stamp) \"}}\n\n"
                    : "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\(stamp) \"}}\n\n")
            } else if tools {
                let head = sent == 1 ? #""id":"call_1","type":"function","function":{"name":"lookup","arguments":""# : #""function":{"arguments":""#
                send(#"data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1,"model":"load","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"# + head + "\(stamp) \"}}]},\"finish_reason\":null}]}\n\n")
            } else {
                send(#"data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1,"model":"load","choices":[{"index":0,"delta":{"content":""# + "\(stamp) " + #""},"finish_reason":null}]}"# + "\n\n")
            }
            channel.eventLoop.scheduleTask(in: .microseconds(Int64(1_000_000 / rate))) { self.tick() }
            return
        }
        if anthropic {
            send("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
            send("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"\(tools ? "tool_use" : "end_turn")\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":\(chunks)}}\n\n")
            send("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
        } else {
            send(#"data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1,"model":"load","choices":[{"index":0,"delta":{},"finish_reason":""# + (tools ? "tool_calls" : "stop") + #""}]}"# + "\n\n")
            send(#"data: {"id":"chatcmpl-load","object":"chat.completion.chunk","created":1,"model":"load","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":"# + "\(chunks)" + #","total_tokens":"# + "\(chunks + 12)" + "}}\n\ndata: [DONE]\n\n")
        }
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }
}

// MARK: client

final class Measurements: @unchecked Sendable {
    let lock = NIOLock()
    var delays: [Int64] = []
    var firstChunk: [Int64] = []
    var completed = 0
    var failed = 0
    var chunks = 0
}

final class StreamClient: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let measurements: Measurements
    let started: Int64
    let done: EventLoopPromise<Void>
    var delays: [Int64] = []
    var first: Int64?
    var status: HTTPResponseStatus?
    var pending: [UInt8] = []

    init(measurements: Measurements, started: Int64, done: EventLoopPromise<Void>) {
        self.measurements = measurements
        self.started = started
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let body):
            let now = nowMicros()
            pending.append(contentsOf: body.readableBytesView)
            // Each stamp is the 16 digits after `"content":"`, `"text":"`, `"arguments":"` or
            // `"partial_json":"`; only complete lines are read.
            guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
            var index = 1
            while index + 2 <= lastNewline {
                if pending[index] == UInt8(ascii: ":"), pending[index + 1] == UInt8(ascii: "\""), pending[index - 1] == UInt8(ascii: "\"") {
                    var cursor = index + 2
                    var value: Int64 = 0
                    var digits = 0
                    while cursor < lastNewline, pending[cursor] >= 48, pending[cursor] <= 57 {
                        value = value * 10 + Int64(pending[cursor] - 48)
                        digits += 1
                        cursor += 1
                    }
                    if digits == 16 {
                        if first == nil { first = now - started }
                        delays.append(now - value)
                    }
                }
                index += 1
            }
            let consumed = lastNewline + 1
            pending.removeFirst(consumed)
        case .end:
            let ok = status == .ok && !delays.isEmpty
            measurements.lock.withLock {
                if ok {
                    measurements.completed += 1
                    measurements.delays.append(contentsOf: delays)
                    measurements.chunks += delays.count
                    if let first { measurements.firstChunk.append(first) }
                } else {
                    measurements.failed += 1
                }
            }
            context.close(promise: nil)
            done.succeed(())
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        measurements.lock.withLock { measurements.failed += 1 }
        context.close(promise: nil)
        done.succeed(())
    }
}

func percentile(_ sorted: [Int64], _ q: Double) -> Int64 {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

let arguments = CommandLine.arguments
let group = MultiThreadedEventLoopGroup.singleton
switch arguments.count > 1 ? arguments[1] : "" {
case "upstream" where arguments.count == 5:
    let rate = Int(arguments[3])!, chunks = Int(arguments[4])!
    let server = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 8192)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.pipeline.configureHTTPServerPipeline().flatMap {
                channel.pipeline.addHandler(StreamingUpstream(rate: rate, chunks: chunks))
            }
        }
        .bind(host: "127.0.0.1", port: Int(arguments[2])!)
        .wait()
    print("stream-load upstream on \(server.localAddress!)")
    try server.closeFuture.wait()
case "client" where arguments.count == 8:
    let port = Int(arguments[2])!, path = arguments[3], streams = Int(arguments[4])!
    let plainBody = try Data(contentsOf: URL(fileURLWithPath: arguments[5]))
    let toolsBody = try Data(contentsOf: URL(fileURLWithPath: arguments[6]))
    let spread = Double(arguments[7])!
    let measurements = Measurements()
    var finished: [EventLoopFuture<Void>] = []
    for index in 0..<streams {
        let loop = group.next()
        let body = index % 10 == 9 ? toolsBody : plainBody
        let done = loop.makePromise(of: Void.self)
        finished.append(done.futureResult)
        let delay = TimeAmount.microseconds(Int64(spread * 1_000_000 * Double(index) / Double(max(streams, 1))))
        loop.scheduleTask(in: delay) {
            let started = nowMicros()
            ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(30))
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap {
                        channel.pipeline.addHandler(StreamClient(measurements: measurements, started: started, done: done))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        var headers = HTTPHeaders()
                        headers.add(name: "host", value: "127.0.0.1:\(port)")
                        headers.add(name: "content-type", value: "application/json")
                        headers.add(name: "content-length", value: "\(body.count)")
                        headers.add(name: "connection", value: "close")
                        if let auth = ProcessInfo.processInfo.environment["STREAM_LOAD_AUTHORIZATION"] {
                            headers.add(name: "authorization", value: auth)
                        }
                        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)), promise: nil)
                        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
                        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    case .failure:
                        measurements.lock.withLock { measurements.failed += 1 }
                        done.succeed(())
                    }
                }
        }
    }
    try EventLoopFuture.andAllComplete(finished, on: group.next()).wait()
    let delays = measurements.delays.sorted()
    let first = measurements.firstChunk.sorted()
    let report: [String: Any] = [
        "streams": streams, "completed": measurements.completed, "failed": measurements.failed, "chunks": measurements.chunks,
        "delay_us": ["p50": percentile(delays, 0.5), "p90": percentile(delays, 0.9), "p99": percentile(delays, 0.99), "max": delays.last ?? 0],
        "ttfc_us": ["p50": percentile(first, 0.5), "p99": percentile(first, 0.99)],
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: report), as: UTF8.self))
default:
    print("usage: bench-stream-load upstream <port> <rate> <chunks> | client <port> <path> <streams> <body file> <tools body file> <spread seconds>")
    exit(2)
}
