extension JSONScanner {
    /// How deep `duplicateKey` looks: past every object the gateway reads (a request, its messages, their
    /// content parts and tool calls, a call's function). Deeper objects (tool schemas, metadata) are passed
    /// on as they are and never read here. Bounded, so a hostile nesting costs at most this many passes.
    public static let duplicateKeyDepth = 6

    /// The first key that occurs twice in one object of the value `range` holds, looking `depth` levels of
    /// objects and arrays deep; nil when there is none.
    ///
    /// Why it matters: JSON leaves duplicate keys undefined, and parsers disagree on which one counts. A
    /// gateway that reads the first `stream` while the provider reads the last would expect a JSON answer
    /// and get a stream, or account for one message list while another is sent. Such a body is refused.
    public func duplicateKey(in range: Range<Int>, depth: Int = Self.duplicateKeyDepth) throws -> String? {
        guard depth > 0, !range.isEmpty else { return nil }
        switch bytes[range.lowerBound] {
        case UInt8(ascii: "{"):
            return try duplicateMember(in: range, depth: depth)
        case UInt8(ascii: "["):
            var found: String?
            try forEachElement(of: range) { element in
                if found == nil { found = try duplicateKey(in: element, depth: depth - 1) }
            }
            return found
        default:
            return nil
        }
    }

    /// Keys are compared as raw bytes, held on the stack: no allocation for an object of up to
    /// `inlineKeys` members without escapes (nearly every one). Others compare decoded keys.
    private static let inlineKeys = 32

    private func duplicateMember(in object: Range<Int>, depth: Int) throws -> String? {
        try withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: Self.inlineKeys) { keys in
            var count = 0
            var decode = false
            var found: String?
            try forEachMember(of: object) { member in
                guard found == nil else { return }
                if member.keyIsEscaped || count == keys.count {
                    decode = true
                } else if !decode {
                    let key = UnsafeRawBufferPointer(rebasing: bytes[member.key])
                    for earlier in keys[..<count] where earlier.count == key.count && UnsafeRawBufferPointer(rebasing: bytes[earlier]).elementsEqual(key) {
                        found = String(decoding: key, as: UTF8.self)
                        return
                    }
                    keys[count] = member.key
                    count += 1
                }
                found = try duplicateKey(in: member.value, depth: depth - 1)
            }
            guard found == nil, decode else { return found }
            // An escaped key (`\u0073tream` is `stream`) or a large object: compare the decoded keys.
            var seen: Set<String> = []
            try forEachMember(of: object) { member in
                guard found == nil else { return }
                let key = string((member.key.lowerBound - 1)..<(member.key.upperBound + 1)) ?? ""
                if !seen.insert(key).inserted { found = key }
            }
            return found
        }
    }
}
