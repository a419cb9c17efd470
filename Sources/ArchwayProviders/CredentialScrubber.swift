#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import ArchwayWire
import ArchwayCore

/// Removes credentials from upstream text before it reaches a client, a log or a span.
enum CredentialScrubber {
    static func scrub(_ text: String, apiKey: String?) -> String {
        var result = text
        if let apiKey, apiKey.count >= 4 {
            result = result.replacingOccurrences(of: apiKey, with: "[redacted]")
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
