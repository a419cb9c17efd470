#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import ArchwayWire
import ArchwayCore

/// Removes credentials from upstream text before it reaches a client, a log or a span.
enum CredentialScrubber {
    /// `text` without any of `secrets` (the provider's key and credential headers) or anything key-shaped.
    static func scrub(_ text: String, secrets: [String]) -> String {
        var result = text
        // The longest first, so a secret that contains another is removed whole.
        for secret in secrets.sorted(by: { $0.utf8.count > $1.utf8.count }) where secret.utf8.count >= 4 {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
        }
        // Providers echo partial keys ("Incorrect API key provided: sk-abc…xyz"): mask anything key-shaped.
        var output = ""
        var index = result.startIndex
        while index < result.endIndex {
            if result[index...].hasPrefix("sk-") || result[index...].hasPrefix("sk_") {
                var end = result.index(index, offsetBy: 3)
                while end < result.endIndex, result[end].isLetter || result[end].isNumber || "-_*.".contains(result[end]) {
                    end = result.index(after: end)
                }
                output += "[redacted]"
                index = end
            } else {
                output.append(result[index])
                index = result.index(after: index)
            }
        }
        return output
    }
}

enum WireJSONAccess {
    static func decodeValue(_ text: String) throws -> JSONValue {
        try WireJSON.decode(JSONValue.self, from: text)
    }
}
