import ArgumentParser

@main
struct ArchwayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archway",
        abstract: "An OpenTelemetry-first AI API gateway.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, CheckCommand.self, SimulateCommand.self]
    )
}
