import ArchwayCore
import ArchwayWire
import Foundation
import NIOCore
import Testing

/// The libFuzzer target in Fuzz/ in miniature, run on every `make test`: thousands of random and
/// mutated bodies through the client body check, the request decoders and the byte relay's rewriter.
/// Nothing may trap; decoding fails only with a `GatewayError` a client sees as 4xx; whatever the relay
/// rewrites is JSON naming the upstream model.
@Suite struct MutatedBodyTests {
    static let seeds = [
        #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
        #"{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"temperature":0.5,"max_tokens":9,"stop":["x"],"response_format":{"type":"json_object"},"metadata":{"a":[1,2.5e3,null,true]}}"#,
        #"{"model":"m","max_tokens":5,"system":"s","messages":[{"role":"user","content":"h\u00e9\n"}]}"#,
    ]

    static let fragments: [[UInt8]] = [
        [0xEF, 0xBB, 0xBF], [0x00], Array(#"\u0000"#.utf8), [0xFF, 0xFE], Array("1e999".utf8), Array("-0".utf8),
        Array("[".utf8), Array("}".utf8), Array(#"""#.utf8), Array(#"\"#.utf8), Array("null".utf8), [0xC3, 0x28],
        [0xED, 0xA0, 0x80], Array(String(repeating: "9", count: 40).utf8), [0x01], Array(#"\q"#.utf8),
    ]

    static func mutate(_ seed: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var data = seed
        for _ in 0...random.nextIndex(below: 6) {
            let position = random.nextIndex(below: data.count + 1)
            switch random.nextIndex(below: 6) {
            case 0 where !data.isEmpty: data.remove(at: position % data.count)
            case 1: data.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            case 2: data.insert(contentsOf: fragments[random.nextIndex(below: fragments.count)], at: position)
            case 3 where !data.isEmpty: data[position % data.count] = UInt8(truncatingIfNeeded: random.next())
            case 4: data = Array(data.prefix(position))
            default:
                let start = random.nextIndex(below: data.count + 1)
                data.insert(contentsOf: data[start...].prefix(random.nextIndex(below: 40)), at: position)
            }
        }
        return data
    }

    @Test func randomAndMutatedBodiesNeverTrapAndRelayOnlyJSON() throws {
        var random = SplitMix64(seed: 20261201)
        var decoded = 0
        var relayed = 0
        for iteration in 0..<6_000 {
            let bytes: [UInt8] = iteration % 5 == 0
                ? (0..<random.nextIndex(below: 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                : Self.mutate(Array(Self.seeds[iteration % Self.seeds.count].utf8), &random)
            guard let body = try? WireJSON.clientBody(ByteBuffer(bytes: bytes)) else { continue }
            do {
                let chat = try OpenAIChatRequest.decode(from: body)
                decoded += 1
                if let upstream = try? OpenAIPassthrough.upstreamBody(WireBytes(bytes: body), model: "up", stream: chat.stream) {
                    relayed += 1
                    let object = try JSONSerialization.jsonObject(with: Data(buffer: upstream)) as? [String: Any]
                    #expect(object?["model"] as? String == "up", "\(String(decoding: bytes, as: UTF8.self))")
                }
            } catch let error as GatewayError {
                #expect((400..<500).contains(Int(error.status.code)))
            } catch {
                Issue.record("relayed bytes that are not JSON: \(String(decoding: bytes, as: UTF8.self))")
            }
            if let anthropic = try? WireJSON.decodeRequest(AnthropicMessagesRequest.self, from: body) {
                _ = try? WireJSON.encode(OpenAIChatRequest(anthropic.request))
            }
        }
        // The run exercised both paths, not only rejections.
        #expect(decoded > 50)
        #expect(relayed > 50)
    }
}
