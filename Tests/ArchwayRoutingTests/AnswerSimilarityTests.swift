import ArchwayRouting
import Testing

@Suite struct AnswerSimilarityTests {
    @Test func identicalAnswersScoreOne() {
        #expect(AnswerSimilarity.score("The capital of France is Paris.", "The capital of France is Paris.") == 1)
        // Case and punctuation do not matter.
        #expect(AnswerSimilarity.score("the capital of france is paris", "The capital of France is Paris!") == 1)
    }

    @Test func paraphrasesScoreBetweenUnrelatedAndIdentical() {
        let reference = "The capital of France is Paris, a city on the Seine."
        let paraphrase = "Paris, on the river Seine, is the capital city of France."
        let unrelated = "Photosynthesis turns sunlight and water into sugar in green leaves."
        let close = AnswerSimilarity.score(paraphrase, reference)
        let far = AnswerSimilarity.score(unrelated, reference)
        #expect(close > 0.6 && close < 1, "paraphrase scored \(close)")
        #expect(far < 0.2, "unrelated answer scored \(far)")
        // Symmetric.
        #expect(abs(AnswerSimilarity.score(reference, paraphrase) - close) < 1e-9)
    }

    @Test func emptyAnswers() {
        #expect(AnswerSimilarity.score("", "") == 1)
        #expect(AnswerSimilarity.score("", "Paris") == 0)
        #expect(AnswerSimilarity.score("...", "Paris") == 0)
    }

    @Test func jsonAnswersAreComparedByStructure() {
        let reference = #"{"city": "Paris", "population": 2100000, "capital": true}"#
        // Same content, other key order and spacing: identical.
        #expect(AnswerSimilarity.score(#"{"capital":true,"population":2100000,"city":"Paris"}"#, reference) == 1)
        // One value of three wrong.
        let oneWrong = AnswerSimilarity.score(#"{"city": "Lyon", "population": 2100000, "capital": true}"#, reference)
        #expect(oneWrong > 0.6 && oneWrong < 0.7, "\(oneWrong)")
        // A key missing counts as a wrong value; a close number nearly right.
        let missing = AnswerSimilarity.score(#"{"city": "Paris", "population": 2100000}"#, reference)
        #expect(abs(missing - 2.0 / 3.0) < 1e-9)
        let close = AnswerSimilarity.score(#"{"city": "Paris", "population": 2000000, "capital": true}"#, reference)
        #expect(close > 0.95 && close < 1)
        // Arrays by position; a different shape scores nothing.
        #expect(AnswerSimilarity.score("[1, 2, 3]", "[1, 2, 3]") == 1)
        #expect(abs(AnswerSimilarity.score("[1, 2]", "[1, 2, 3, 4]") - 0.5) < 1e-9)
        #expect(AnswerSimilarity.score(#"{"a": [1]}"#, #"{"a": {"b": 1}}"#) == 0)
        // JSON against prose falls back to the text measure.
        #expect(AnswerSimilarity.score(#"{"city": "Paris"}"#, "city Paris") > 0.5)
    }

    @Test func cosine() {
        #expect(abs(AnswerSimilarity.cosine([1, 0, 1], [1, 0, 1]) - 1) < 1e-9)
        #expect(AnswerSimilarity.cosine([1, 0], [0, 1]) == 0)
        #expect(AnswerSimilarity.cosine([1, 0], [-1, 0]) == 0)
        #expect(abs(AnswerSimilarity.cosine([1, 1], [1, 0]) - 0.5.squareRoot()) < 1e-9)
        #expect(AnswerSimilarity.cosine([1, 2], [1, 2, 3]) == 0)
    }
}
