import ArchwayConfig
import ArgumentParser

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file and report every problem with its location."
    )

    @Option(name: .shortAndLong, help: "Path of the YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let configuration = try ConfigurationLoader().load(file: config)
            print("ok: \(config): \(configuration.providers.count) provider(s), \(configuration.models.count) model(s), listening on \(configuration.listen)")
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
    }
}
