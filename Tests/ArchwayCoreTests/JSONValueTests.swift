import ArchwayCore
import Foundation
import Testing

@Suite struct JSONValueTests {
    private func roundTrip(_ text: String) throws -> (JSONValue, String) {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (value, String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// A 64-bit id survives decoding and encoding digit for digit; a double would have rounded it.
    @Test func wholeNumbersPastTwoToThe53KeepTheirDigits() throws {
        for text in ["9007199254740993", "-9007199254740993", "1234567890123456789", "9223372036854775807", "-9223372036854775808"] {
            let (value, encoded) = try roundTrip("{\"id\":\(text),\"ids\":[\(text)]}")
            #expect(encoded == "{\"id\":\(text),\"ids\":[\(text)]}")
            #expect(value["id"] == JSONValue.number(exactly: Int64(text)!))
            #expect(value["id"] != .number(Double(text)!) || text == "-9223372036854775808", "-2^63 alone is a double exactly")
        }
    }

    /// Numbers a double holds exactly stay `.number`, so each value has one form.
    @Test func otherNumbersStayDoubles() throws {
        let (value, encoded) = try roundTrip(#"{"a":9007199254740992,"b":0.5,"c":-3,"d":1e300,"e":18446744073709551615}"#)
        #expect(value["a"] == .number(9007199254740992))
        #expect(value["b"] == .number(0.5))
        #expect(value["c"] == .number(-3))
        #expect(value["d"] == .number(1e300))
        // Past Int64 it is a double again, rounded: nothing can hold it exactly.
        #expect(value["e"] == .number(18446744073709551615))
        #expect(encoded.hasPrefix(#"{"a":9007199254740992,"b":0.5,"c":-3,"#))
        #expect(JSONValue.number(exactly: 42) == .number(42))
        #expect(JSONValue.number(exactly: 9007199254740993) == .integer(9007199254740993))
        #expect(JSONValue.integer(9007199254740993).doubleValue == 9007199254740992)
    }
}
