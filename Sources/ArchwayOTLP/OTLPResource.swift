import ArchwayCore
import Foundation

/// The resource every export names, in key order: the SDK's attributes and the instance's, under the
/// configured ones (`OTLPExportSettings.resourceAttributes`).
enum OTLPResource {
    static func attributes(_ configured: [String: String]) -> [(key: String, value: String)] {
        defaults.merging(configured) { _, configured in configured }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// What the SDK sets itself: `telemetry.sdk.*`, required on every signal's resource, and this process's
    /// `service.instance.id`. Replicas of one service must differ, or their cumulative series read as one
    /// that keeps resetting; it is random (a version 4 UUID), as the conventions advise.
    static let defaults = [
        "telemetry.sdk.name": "archway",
        "telemetry.sdk.language": "swift",
        "telemetry.sdk.version": ArchwayVersion.current,
        "service.instance.id": UUID().uuidString.lowercased(),
    ]
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
