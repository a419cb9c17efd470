/// The resource every export names: the configured attributes (`service.name`, `OTEL_RESOURCE_ATTRIBUTES`)
/// and the SDK's own, in key order.
enum OTLPResource {
    static func attributes(_ configured: [String: String]) -> [(key: String, value: String)] {
        var attributes = configured
        attributes["telemetry.sdk.name"] = "archway"
        attributes["telemetry.sdk.language"] = "swift"
        return attributes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension Opentelemetry_Proto_Resource_V1_Resource {
    init(attributes: [String: String]) {
        self.init()
        self.attributes = OTLPResource.attributes(attributes).map { key, value in
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value.stringValue = value
            return pair
        }
    }
}
