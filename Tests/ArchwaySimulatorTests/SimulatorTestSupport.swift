import ArchwayConfig
import ArchwayCore
import ArchwaySimulator
import ArchwayWire
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore

/// Shared fixtures: a simulator without delays, request bodies and response readers.
enum SimulatorTestSupport {
    static let fastSettings = SimulatorSettings(latency: .zero, timeToFirstToken: .zero, tokensPerSecond: 0, seed: 42)

    static func app(_ settings: SimulatorSettings = fastSettings) -> some ApplicationProtocol {
        Application(router: Simulator.makeRouter(settings: settings))
    }

    static func headers(_ pairs: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            if let fieldName = HTTPField.Name(name) { fields[fieldName] = value }
        }
        return fields
    }

    static func chatBody(_ text: String = "hello simulator", model: String = "sim-model", extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(text)"}]\#(extra)}"#)
    }

    static func json(_ buffer: ByteBuffer) throws -> JSONValue {
        try WireJSON.decode(JSONValue.self, from: String(buffer: buffer))
    }

    /// Every event of an SSE body, in order.
    static func events(_ buffer: ByteBuffer) -> [ServerSentEvent] {
        var parser = SSEParser()
        parser.append(buffer)
        var events: [ServerSentEvent] = []
        while let event = parser.nextEvent() { events.append(event) }
        if let last = parser.finish() { events.append(last) }
        return events
    }

    /// The chunks of an OpenAI stream (everything but `[DONE]`).
    static func chunks(_ events: [ServerSentEvent]) throws -> [JSONValue] {
        try events.filter { $0.data != "[DONE]" }.map { try WireJSON.decode(JSONValue.self, from: $0.data) }
    }
}

extension JSONValue {
    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}
