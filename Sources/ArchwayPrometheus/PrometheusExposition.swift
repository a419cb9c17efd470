public import CoreMetrics
import Prometheus
public import ArchwayTelemetry

/// Metrics for `GET /metrics`: a swift-metrics factory that writes into a Prometheus registry under the
/// names an OpenTelemetry Collector's Prometheus exporter would give the same OTLP metrics.
///
/// Metrics pass the OpenTelemetry unit as a `unit` dimension (swift-otel's convention); this factory
/// turns it into the name suffix instead of a label.
public final class PrometheusExposition: MetricsFactory, Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    public init(histograms: [String: (unit: String, buckets: [Double])] = GenAIMetricSet.histograms) {
        var factory = PrometheusMetricsFactory(registry: registry)
        var buckets: [String: [Double]] = [:]
        for (name, histogram) in histograms {
            // Keyed by the translated name, which is what the factory sees after renaming.
            buckets[PrometheusNaming.metricName(name, unit: histogram.unit, isCounter: false)] = histogram.buckets
        }
        factory.valueHistogramBuckets = buckets
        self.factory = factory
    }

    /// The text exposition format (version 0.0.4).
    public func render(into buffer: inout [UInt8]) {
        registry.emit(into: &buffer)
    }

    private func translate(_ label: String, _ dimensions: [(String, String)], isCounter: Bool) -> (String, [(String, String)]) {
        var unit: String?
        var labels: [(String, String)] = []
        labels.reserveCapacity(dimensions.count)
        for (key, value) in dimensions {
            if key == "unit" {
                unit = value
            } else if key != "description" {
                labels.append((PrometheusNaming.labelName(key), value))
            }
        }
        return (PrometheusNaming.metricName(label, unit: unit, isCounter: isCounter), labels)
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let (name, labels) = translate(label, dimensions, isCounter: true)
        return factory.makeCounter(label: name, dimensions: labels)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let (name, labels) = translate(label, dimensions, isCounter: true)
        return factory.makeFloatingPointCounter(label: name, dimensions: labels)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let (name, labels) = translate(label, dimensions, isCounter: false)
        return factory.makeRecorder(label: name, dimensions: labels, aggregate: aggregate)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        let (name, labels) = translate(label, dimensions, isCounter: false)
        return factory.makeMeter(label: name, dimensions: labels)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let (name, labels) = translate(label, dimensions, isCounter: false)
        return factory.makeTimer(label: name, dimensions: labels)
    }

    public func destroyCounter(_ handler: any CounterHandler) { factory.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { factory.destroyFloatingPointCounter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { factory.destroyRecorder(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { factory.destroyMeter(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { factory.destroyTimer(handler) }
}
