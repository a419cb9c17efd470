import ArchwayTelemetry
import CoreMetrics
import ServiceLifecycle

/// Publishes the gateway process's own resource use every `interval`, as the OpenTelemetry process
/// metrics name it: `process.cpu.time` by `cpu.mode`, `process.memory.usage` (resident),
/// `process.memory.virtual`, `process.thread.count` and `process.unix.file_descriptor.count`. What an
/// operator needs to see memory settle after a peak, or descriptors climb towards the limit, without a
/// node exporter beside the gateway.
struct ProcessMetricsPublisher: Service {
    let telemetry: GenAITelemetry
    var interval: Duration = .seconds(5)
    var read: @Sendable () -> ProcessStatistics = { ProcessStatistics.current() }

    func run() async throws {
        let metrics = Handles(telemetry: telemetry)
        var previous: ProcessStatistics?
        await repeatUntilGracefulShutdown(every: interval) {
            let now = read()
            metrics.publish(now, since: previous)
            previous = now
        }
    }

    /// The handles, made once.
    struct Handles {
        let userCPU: FloatingPointCounter
        let systemCPU: FloatingPointCounter
        let resident: Gauge
        let virtual: Gauge
        let threads: Gauge
        let fileDescriptors: Gauge

        init(telemetry: GenAITelemetry) {
            userCPU = telemetry.floatingCounter(GenAIMetricSet.processCPUTime, unit: "s", [(GenAIAttributes.cpuMode, "user")])
            systemCPU = telemetry.floatingCounter(GenAIMetricSet.processCPUTime, unit: "s", [(GenAIAttributes.cpuMode, "system")])
            resident = telemetry.gauge(GenAIMetricSet.processMemoryUsage, unit: "By", [])
            virtual = telemetry.gauge(GenAIMetricSet.processMemoryVirtual, unit: "By", [])
            threads = telemetry.gauge(GenAIMetricSet.processThreadCount, unit: "{thread}", [])
            fileDescriptors = telemetry.gauge(GenAIMetricSet.processFileDescriptorCount, unit: "{file_descriptor}", [])
        }

        /// CPU time is a counter: it grows by what was used since the previous reading (all of it at the
        /// first).
        func publish(_ now: ProcessStatistics, since previous: ProcessStatistics?) {
            userCPU.increment(by: max(now.userCPUSeconds - (previous?.userCPUSeconds ?? 0), 0))
            systemCPU.increment(by: max(now.systemCPUSeconds - (previous?.systemCPUSeconds ?? 0), 0))
            if let bytes = now.residentBytes { resident.record(bytes) }
            if let bytes = now.virtualBytes { virtual.record(bytes) }
            if let count = now.threads { threads.record(count) }
            if let count = now.openFileDescriptors { fileDescriptors.record(count) }
        }
    }
}
