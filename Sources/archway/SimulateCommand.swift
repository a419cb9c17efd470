import ArchwayConfig
import ArchwaySimulator
import ArgumentParser
import Hummingbird
import NIOCore
import Logging
import ServiceLifecycle

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the built-in provider simulator (OpenAI and Anthropic wire formats) as a standalone server."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9090
    @Option(help: "Seed of the deterministic output.") var seed: UInt64 = 42
    @Option(help: "Delay before a non-streamed answer, in milliseconds.") var latency: Double = 20
    @Option(help: "Delay before the first streamed token, in milliseconds.") var ttft: Double = 20
    @Option(name: .customLong("tokens-per-second"), help: "Streaming speed.") var tokensPerSecond: Double = 500
    @Option(name: .customLong("error-rate"), help: "Share of requests answered with --error-status (0…1).") var errorRate: Double = 0
    @Option(name: .customLong("error-status"), help: "Status of injected errors.") var errorStatus: Int = 500
    @Option(name: .customLong("rate-limit-rate"), help: "Share of requests answered with 429 (0…1).") var rateLimitRate: Double = 0

    func validate() throws {
        guard (0...1).contains(errorRate), (0...1).contains(rateLimitRate) else { throw ValidationError("rates must be between 0 and 1") }
        guard (400...599).contains(errorStatus) else { throw ValidationError("--error-status must be between 400 and 599") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535, got \(port)") }
        guard tokensPerSecond > 0 else { throw ValidationError("--tokens-per-second must be above 0, got \(tokensPerSecond)") }
        guard latency >= 0, ttft >= 0 else { throw ValidationError("timings must not be negative") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label) }
        let logger = Logger(label: "archway.simulator")
        let settings = SimulatorSettings(
            latency: .milliseconds(latency),
            timeToFirstToken: .milliseconds(ttft),
            tokensPerSecond: tokensPerSecond,
            errorRate: errorRate,
            errorStatus: errorStatus,
            rateLimitRate: rateLimitRate,
            seed: seed
        )
        let application = Simulator.makeApplication(host: host, port: port, settings: settings, logger: logger) { channel in
            printToStandardError("archway simulator listening on http://\(host):\(channel.localAddress?.port ?? port)")
        }
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError where ServeCommand.isBindFailure(error) {
            printToStandardError("archway simulate cannot listen on \(host):\(port): \(ServeCommand.bindProblem(error.errnoCode))")
            throw ExitCode(1)
        }
    }
}
