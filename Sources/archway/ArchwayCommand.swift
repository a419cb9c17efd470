import ArchwayCore
import ArgumentParser

@main
struct ArchwayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archway",
        abstract: "An OpenTelemetry-first AI API gateway.",
        version: ArchwayVersion.current,
        subcommands: [ServeCommand.self, CheckCommand.self, SimulateCommand.self]
    )
}
