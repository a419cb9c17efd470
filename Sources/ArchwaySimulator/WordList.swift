/// The vocabulary of simulated answers: plain lowercase ASCII words, so they never need JSON escaping.
enum WordList {
    static let words: [String] = [
        "the", "simulated", "model", "answers", "with", "a", "steady", "stream", "of", "plain",
        "words", "that", "carry", "little", "meaning", "but", "keep", "every", "test", "honest",
        "gateway", "tokens", "arrive", "in", "order", "while", "traces", "record", "each", "step",
        "quiet", "river", "bright", "lantern", "orbit", "harbor", "meadow", "copper", "velvet", "summit",
        "echo", "pixel", "cedar", "amber", "falcon", "glacier", "ember", "willow", "prairie", "compass",
        "beacon", "canyon", "drift", "ripple", "saffron", "thistle", "granite", "nimbus", "quartz", "tundra",
        "across", "under", "softly", "again",
    ]
}
