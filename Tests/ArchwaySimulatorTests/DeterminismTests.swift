import ArchwayCore
@testable import ArchwaySimulator
import Testing

/// The simulator promises the same answers in every process and on every platform; these pin the
/// primitives (and one answer) so an accidental change shows up here rather than in a flaky e2e run.
@Suite struct DeterminismTests {
    @Test func splitMixMatchesTheReferenceSequence() {
        var random = SplitMix64(seed: 0)
        #expect(random.next() == 0xE220_A839_7B1D_CDAF)
        #expect(random.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(random.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func fnvMatchesTheReferenceHash() {
        var hasher = FNV1a()
        #expect(hasher.value == 0xCBF2_9CE4_8422_2325)
        hasher.combine(byte: UInt8(ascii: "a"))
        #expect(hasher.value == 0xAF63_DC4C_8601_EC8C)
    }

    @Test func answersArePinned() throws {
        let request = ChatRequest(model: "m", messages: [.text(.user, "hello simulator")])
        let completion = try SimulatedCompletion(request: request, seed: 42, toolCallPrefix: "call_sim_")
        let text = completion.message.text
        #expect(text == Self.pinnedAnswer, "update the pin only for a deliberate change of the generator")
        #expect(completion.usage == Usage(inputTokens: 4, outputTokens: text.split(separator: " ").count))
    }

    static let pinnedAnswer = "Simulated under a glacier again again again saffron meaning nimbus across amber tundra model gateway of falcon tundra under."

    @Test func failureRatesAreExactShares() {
        for rate in [0.0, 0.1, 0.25, 0.5, 1.0] {
            let fired = (1...1_000).filter { SimulatorService.fires(rate: rate, number: UInt64($0), phase: 0.37) }.count
            #expect(fired == Int((rate * 1_000).rounded()), "rate \(rate)")
        }
    }

    @Test func toolArgumentsFillRequiredProperties() {
        let schema: JSONValue = .object([
            "type": .string("object"),
            "properties": .object([
                "name": .object(["type": .string("string")]),
                "unit": .object(["type": .string("string"), "enum": .array([.string("c"), .string("f")])]),
                "count": .object(["type": .array([.string("null"), .string("integer")])]),
                "tags": .object(["type": .string("array")]),
                "other": .object([:]),
                "optional": .object(["type": .string("string")]),
            ]),
            "required": .array([.string("name"), .string("unit"), .string("count"), .string("tags"), .string("other")]),
        ])
        #expect(ToolArguments.json(for: schema) == #"{"name":"sim","unit":"c","count":1,"tags":[],"other":null}"#)
        #expect(ToolArguments.json(for: nil) == "{}")
    }

    @Test func answerQualityIsTheShareOfReferenceAnswersDeterministicPerModel() throws {
        let requests = (0..<400).map { ChatRequest(model: "m", messages: [.text(.user, "question \($0)")]) }
        func answers(model: String, quality: Double) throws -> [String] {
            try requests.map { try SimulatedCompletion(request: $0, seed: 42, toolCallPrefix: "c", model: model, quality: quality).message.text }
        }
        let reference = try answers(model: "any", quality: 1)
        // Every model gives the reference answer at quality 1.
        #expect(try answers(model: "other", quality: 1) == reference)
        // At 0.7, about 70 % are the reference answer; the rest differ.
        let drifting = try answers(model: "drifter", quality: 0.7)
        let same = zip(drifting, reference).filter { $0 == $1 }.count
        #expect((250...310).contains(same), "\(same) of 400")
        // The same every time, and another model drifts on other requests.
        #expect(try answers(model: "drifter", quality: 0.7) == drifting)
        #expect(try answers(model: "wanderer", quality: 0.7) != drifting)
        #expect(try answers(model: "drifter", quality: 0).allSatisfy { !reference.contains($0) })
    }
}
