@testable import ArchwayPolicy
import Testing

@Suite struct PIIScannerTests {
    let scanner = try! PIIScanner()

    func found(_ text: String) -> [(String, String)] {
        let bytes = Array(text.utf8)
        return scanner.scan(text).map { ($0.kind.name, String(decoding: bytes[$0.range], as: UTF8.self)) }
    }

    @Test(arguments: [
        // Valid values, each found whole and as its kind.
        ("write to ada.lovelace+notes@example.co.uk today", "email", "ada.lovelace+notes@example.co.uk"),
        ("card 4111 1111 1111 1111 please", "credit_card", "4111 1111 1111 1111"),
        ("amex 378282246310005.", "credit_card", "378282246310005"),
        ("mc 5555-5555-5555-4444", "credit_card", "5555-5555-5555-4444"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "iban", "DE89 3704 0044 0532 0130 00"),
        ("pay GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("ssn 123-45-6789", "us_ssn", "123-45-6789"),
        ("call +1 415 555 2671 now", "phone", "+1 415 555 2671"),
        ("call (415) 555-2671", "phone", "(415) 555-2671"),
        ("ring 415-555-2671", "phone", "415-555-2671"),
        ("uk 020 7946 0958", "phone", "020 7946 0958"),
        ("fr 01 23 45 67 89", "phone", "01 23 45 67 89"),
        ("de +49 30 901820", "phone", "+49 30 901820"),
        ("host 192.168.1.20 is up", "ip_address", "192.168.1.20"),
        ("v6 2001:db8:85a3::8a2e:370:7334 here", "ip_address", "2001:db8:85a3::8a2e:370:7334"),
        ("loopback ::1", "ip_address", "::1"),
        ("mapped ::ffff:192.0.2.128", "ip_address", "::ffff:192.0.2.128"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345", "secret", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"),
        ("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "secret", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"),
        ("aws AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "secret", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
         "secret", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
        ("call 1-415-555-2671 now", "phone", "1-415-555-2671"),
        ("call 1 (415) 555-2671", "phone", "1 (415) 555-2671"),
        ("tollfree 1-800-555-0199.", "phone", "1-800-555-0199"),
        ("uk 0044 20 7946 0958", "phone", "0044 20 7946 0958"),
        ("mobile 07911 123456", "phone", "07911 123456"),
        ("berlin 030 12345678", "phone", "030 12345678"),
        ("mail josé@example.com", "email", "josé@example.com"),
        ("an müller@example.de", "email", "müller@example.de"),
        ("to o'brien@example.ie", "email", "o'brien@example.ie"),
        ("at user@münchen.de", "email", "user@münchen.de"),
        ("'quoted@example.com'", "email", "quoted@example.com"),
        ("link-local fe80::1", "ip_address", "fe80::1"),
        (#"{"v": "10.0.0.1"}"#, "ip_address", "10.0.0.1"),
        ("rev 10.1.2.3 is the gateway", "ip_address", "10.1.2.3"),
        ("release 192.168.1.20 now", "ip_address", "192.168.1.20"),
        ("prefix 2001:db8:: ok", "ip_address", "2001:db8::"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----",
         "secret", "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----"),
    ])
    func findsValidValues(text: String, kind: String, value: String) {
        let findings = found(text)
        #expect(findings.count == 1 && findings.first?.0 == kind && findings.first?.1 == value, "\(findings)")
    }

    @Test(arguments: [
        // Invalid checksums and rules.
        "card 4111 1111 1111 1112",             // Luhn fails
        "IBAN DE89 3704 0044 0532 0130 01",     // mod-97 fails
        "ssn 000-12-3456", "ssn 666-12-3456", "ssn 912-12-3456", "ssn 123-00-4567", "ssn 123-45-0000",
        "ip 256.1.1.1", "ip 01.2.3.4", "mac 00:1A:2B:3C:4D:5E", "v6 2001:db8::85a3::1",
        "key sk-short", "aws AKIA1234",
        // Look-alikes: ordinary numbers.
        "order 123456789012 shipped", "order #4111111111111111 is a reference, not a card? (Luhn ok, but no separators needed) ",
        "price $1,299.99 or 1299.99 EUR", "on 2024-03-15 at 12:30:45", "version 1.2.3 and 10.0.19045",
        "part PN-4411-22-A and SKU 000-111-22", "coordinates 48.8566, 2.3522", "ratio 3:4:5", "call std::vector::push_back",
        "tracking 1Z999AA10123456784", "isbn 978-3-16-148410-0", "room 555-1234", "the year 1999 and 2000",
        "port 8080, pid 12345, 3.14159", "invoice INV-2024-000123", "uuid 123e4567-e89b-12d3-a456-426614174000",
        // Code and numberings that look like addresses.
        "rev = s[::-1]", "evens = a[::2]", "odds = a[1::2]", "main :: IO ()", ":: a Windows batch comment",
        "Ruby A::B", "C++ Face::Add", "version 1.2.3.4", "[assembly: AssemblyVersion(\"4.0.0.0\")]", "OID 2.5.4.3",
        "RFC section 2.1.1.1",
        // Digits in groups that are no phone number.
        "ids 012 345", "(((((1)))))", "1-2-3-4-5-6-7-8", "id 0012-3456-7890",
        // Decimal fractions whose digits would pass for a card (issuer prefix, Luhn): floats as Python prints them.
        "score 0.4221165755827173", "lat 40.4221165755827173, lon -3.7038", "embedding [0.4221165755827173, -0.4221165755827173]",
    ])
    func passesWhatIsNotPersonalData(text: String) {
        // The fraction test is only worth something while its digits alone are a card.
        #expect(found("card 4221165755827173").map(\.0) == ["credit_card"])
        // Grouped values right after `digit.` are no fraction: still found, whatever their kind.
        #expect(found("Step 2.4111 1111 1111 1111").map(\.0) == ["credit_card"])
        #expect(found("Ref 3.5555-5555-5555-4444").map(\.0) == ["credit_card"])
        #expect(found("1.123-45-6789").map(\.0) == ["us_ssn"])
        #expect(found("Call 2.415-555-2671").map(\.0) == ["phone"])
        let findings = found(text)
        if text.hasPrefix("order #4111") {
            // A bare 16-digit Luhn-valid Visa number is a card number, however it is labelled.
            #expect(findings.map(\.0) == ["credit_card"])
        } else {
            #expect(findings.isEmpty, "\(text): \(findings)")
        }
    }

    @Test func findsSeveralInOrderAndCustomEntities() throws {
        let scanner = try PIIScanner(custom: [(name: "employee_id", pattern: "EMP-[0-9]{6}")])
        let text = "Ada (ada@example.com, EMP-123456) paid with 4111-1111-1111-1111 from 10.0.0.1."
        let bytes = Array(text.utf8)
        let findings = scanner.scan(text).map { ($0.kind.name, String(decoding: bytes[$0.range], as: UTF8.self)) }
        #expect(findings.map(\.0) == ["email", "employee_id", "credit_card", "ip_address"])
        #expect(findings.map(\.1) == ["ada@example.com", "EMP-123456", "4111-1111-1111-1111", "10.0.0.1"])
        // Only the configured entities.
        let emailsOnly = try PIIScanner(kinds: [.email])
        #expect(emailsOnly.scan(text).map(\.kind) == [.email])
    }

    @Test func nonASCIITextAroundValues() {
        #expect(found("Grüße an jürgen@example.de – Karte 4111 1111 1111 1111 ✓").map(\.0) == ["email", "credit_card"])
        #expect(found("电话 +86 10 6552 9988，邮箱 li@example.cn").map(\.0) == ["phone", "email"])
    }

    /// A PEM header without its END line hides nothing after it: the text that follows is scanned as any.
    @Test func aPEMHeaderWithoutAnEndHidesNothing() {
        let text = "-----BEGIN PRIVATE KEY-----\nmail ada@example.com, card 4111 1111 1111 1111, ssn 123-45-6789, host 10.1.2.3"
        #expect(found(text).map(\.0) == ["email", "credit_card", "us_ssn", "ip_address"])
        let repeated = String(repeating: "-----BEGIN PRIVATE KEY-----\n", count: 100) + "ada@example.com"
        #expect(found(repeated).map(\.0) == ["email"])
        // A whole block after a stray header is still found whole.
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----"
        let secrets = found("-----BEGIN PRIVATE KEY-----\n" + key)
        #expect(secrets.count == 1 && secrets.first?.0 == "secret" && secrets.first?.1.hasSuffix(key) == true)
    }

    /// Every detector's look-ahead is bounded: text made of one repeated token start (each tried) is
    /// scanned in linear time. Quadratic, 64 KB of `(` took seconds of an event loop and a megabyte
    /// minutes. One case after another, so the check takes one core, briefly.
    @Test(.timeLimit(.minutes(1)))
    func repeatedTokenStartsAreScannedInLinearTime() {
        for unit in ["(", "( ", "()", "(-", "sk-", "xoxb-", "AIza-", "eyJ-", "eyJa.", "1:1.", "0 ",
                     "-----BEGIN PRIVATE KEY-----\n", "a@", "@a.", "1.1.", "+1 "] {
            let text = String(repeating: unit, count: (1 << 16) / unit.utf8.count)
            _ = scanner.scan(text)
        }
    }
}
