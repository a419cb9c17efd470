@testable import ArchwayGateway
import ArchwayTelemetry
import InMemoryTracing
import Logging
import MetricsTestKit
import ServiceLifecycle
import Testing

@Suite("Publishing the process's own metrics")
struct ProcessMetricsPublisherTests {
    @Test("published as the OpenTelemetry process metrics; CPU time grows by what was used between readings")
    func publishes() async throws {
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: metrics)
        let handles = ProcessMetricsPublisher.Handles(telemetry: telemetry)
        // Whole seconds: MetricsTestKit keeps a floating-point counter as a rounding integer counter.
        let first = ProcessStatistics(userCPUSeconds: 3, systemCPUSeconds: 1, residentBytes: 40 << 20, virtualBytes: 900 << 20, threads: 9, openFileDescriptors: 18)
        handles.publish(first, since: nil)
        var second = first
        second.userCPUSeconds = 5
        second.residentBytes = 41 << 20
        handles.publish(second, since: first)

        #expect(metrics.counterTotal(label: "process.cpu.time", dimensions: [("unit", "s"), ("cpu.mode", "user")]) == 5)
        #expect(metrics.counterTotal(label: "process.cpu.time", dimensions: [("unit", "s"), ("cpu.mode", "system")]) == 1)
        func gauge(_ label: String) throws -> Double? {
            try #require(metrics.recorders(label: label).first).lastValue
        }
        #expect(try gauge("process.memory.usage") == Double(41 << 20))
        #expect(try gauge("process.memory.virtual") == Double(900 << 20))
        #expect(try gauge("process.thread.count") == 9)
        #expect(try gauge("process.unix.file_descriptor.count") == 18)
    }

    @Test("the service publishes at once, then every interval, until shutdown")
    func serviceRuns() async throws {
        let metrics = TestMetrics()
        let telemetry = GenAITelemetry(tracer: InMemoryTracer(), metrics: metrics)
        let publisher = ProcessMetricsPublisher(telemetry: telemetry, interval: .milliseconds(10)) {
            ProcessStatistics(userCPUSeconds: 1, systemCPUSeconds: 1, residentBytes: 1 << 20)
        }
        let group = ServiceGroup(services: [publisher], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for _ in 0..<200 where (metrics.recorders(label: "process.memory.usage").first?.values.count ?? 0) < 3 {
                try await Task.sleep(for: .milliseconds(10))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect((metrics.recorders(label: "process.memory.usage").first?.values.count ?? 0) >= 3)
        let threadCounts = metrics.recorders(label: "process.thread.count").flatMap(\.values)
        #expect(threadCounts.isEmpty, "an unknown figure is not published")
    }
}
