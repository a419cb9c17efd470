import ArchwayConfig
import ArchwayPolicy
import ArchwayRouting

/// One libFuzzer input through what reads a client's text in the policy stage and the routing and
/// workflow layers: the PII scanner, redaction and its restoration (whole and split at any point), the
/// injection scorer, the consistency measure, and the workflow template parser. A crash or a broken
/// invariant is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    let findings = scanner.scan(text)
    var end = 0
    for finding in findings {
        precondition(finding.range.lowerBound >= end && finding.range.upperBound <= text.utf8.count, "findings overlap or overrun")
        end = finding.range.upperBound
    }
    var session = RedactionSession(mode: .redact, texts: [text])
    let redacted = session.redact(text, findings: findings)
    precondition(session.restore(redacted) == text, "restoration lost the text")
    let cut = redacted.index(redacted.startIndex, offsetBy: redacted.count / 2)
    var restorer = session.streamRestorer()
    let streamed = restorer.feed(String(redacted[..<cut])) + restorer.feed(String(redacted[cut...])) + restorer.finish()
    precondition(streamed == text, "streamed restoration differs")
    let score = scorer.score(text).score
    precondition(score >= 0 && score <= 1, "score out of range")
    let half = text.index(text.startIndex, offsetBy: text.count / 2)
    let similarity = AnswerSimilarity.score(String(text[..<half]), String(text[half...]))
    precondition(similarity >= 0 && similarity <= 1, "similarity out of range")
    _ = try? WorkflowTemplate(text)
    return 0
}

let scanner = try! PIIScanner(custom: [(name: "employee_id", pattern: "EMP-[0-9]{6}")])
let scorer = InjectionScorer()
