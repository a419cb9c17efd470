import NIOCore
import NIOPosix

/// Sends one HTTP/1.1 request over a fresh TCP connection and returns every byte received until the
/// server closes it. Unlike an HTTP client, it shows exactly how a broken stream ended.
enum RawHTTPClient {
    static func exchange(port: Int, method: String = "POST", path: String, headers: [String: String] = [:], body: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = head + "\r\n" + body
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ByteBuffer()
            do {
                for try await var part in inbound { received.writeBuffer(&part) }
            } catch {
                // A reset after the close still leaves what arrived before it.
            }
            return String(buffer: received)
        }
    }

    /// Sends one HTTP/1.1 request, reads until the received bytes contain `marker` `count` times, then
    /// closes the connection without reading the rest: a client that goes away mid-stream. Returns what
    /// was received.
    static func readThenDisconnect(
        port: Int,
        path: String,
        headers: [String: String] = [:],
        body: String,
        until marker: String,
        count: Int
    ) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = head + "\r\n" + body
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ""
            for try await part in inbound {
                received += String(buffer: part)
                if received.components(separatedBy: marker).count - 1 >= count { break }
            }
            return received
        }
    }
}
