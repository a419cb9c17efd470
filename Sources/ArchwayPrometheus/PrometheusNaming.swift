/// The OpenTelemetry → Prometheus naming rules an OpenTelemetry Collector's Prometheus exporter applies
/// (unit suffixes, `_total` on counters, `.` → `_`), so `GET /metrics` shows the same series names a
/// collector would produce from the OTLP metrics, and one dashboard works on either path.
public enum PrometheusNaming {
    /// Units the translator spells out; others are kept as written, annotations in braces are dropped.
    static let unitNames: [String: String] = [
        "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
        "min": "minutes", "h": "hours", "d": "days",
        "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
        "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
        "Cel": "celsius", "Hz": "hertz", "%": "percent",
    ]

    /// The Prometheus metric name for an OpenTelemetry instrument.
    public static func metricName(_ name: String, unit: String?, isCounter: Bool) -> String {
        var result = sanitize(name)
        if let suffix = unit.flatMap(unitSuffix), !result.hasSuffix("_" + suffix) {
            result += "_" + suffix
        }
        if isCounter, !result.hasSuffix("_total") { result += "_total" }
        return result
    }

    /// The Prometheus label name for an attribute key.
    public static func labelName(_ key: String) -> String {
        let sanitized = sanitize(key)
        return sanitized.first?.isNumber == true ? "key_" + sanitized : sanitized
    }

    static func unitSuffix(_ unit: String) -> String? {
        // `{token}` and the `{…}` parts of `1/{request}` are annotations, not units.
        var stripped = ""
        var depth = 0
        for character in unit {
            if character == "{" { depth += 1 } else if character == "}" { depth = max(depth - 1, 0) } else if depth == 0 { stripped.append(character) }
        }
        guard !stripped.isEmpty, stripped != "1" else { return nil }
        if let slash = stripped.firstIndex(of: "/") {
            let numerator = String(stripped[..<slash])
            let denominator = String(stripped[stripped.index(after: slash)...])
            let perUnit = ["s": "second", "m": "minute", "h": "hour", "d": "day"][denominator] ?? (unitNames[denominator] ?? denominator)
            // "1" is the dimensionless unit: "1/s" is a plain rate.
            let first = numerator.isEmpty || numerator == "1" ? nil : (unitNames[numerator] ?? numerator)
            return [first, "per_" + perUnit].compactMap { $0 }.map(sanitize).joined(separator: "_")
        }
        return sanitize(unitNames[stripped] ?? stripped)
    }

    static func sanitize(_ text: String) -> String {
        var result = ""
        var lastWasUnderscore = false
        for scalar in text.unicodeScalars {
            let valid = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") || scalar == ":"
            if valid {
                result.unicodeScalars.append(scalar)
                lastWasUnderscore = false
            } else if !lastWasUnderscore {
                result.append("_")
                lastWasUnderscore = true
            }
        }
        return result
    }
}
