import ArchwayConfig
import ArgumentParser
import Foundation

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file and report every problem with its location."
    )

    @Option(name: .shortAndLong, help: "Path of the YAML configuration file.")
    var config: String

    func run() throws {
        let loader = ConfigurationLoader()
        do {
            let configuration = try loader.load(file: config)
            var pricingNote = ""
            if let file = configuration.pricing.file {
                // The pricing file is checked too, at its own lines; a missing one is applied once it appears.
                if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                    _ = try loader.loadPricing(yaml: text, file: file, knownModels: Set(configuration.models.map(\.name)))
                    pricingNote = ", prices from \(file)"
                } else {
                    pricingNote = ", pricing file \(file) not found yet"
                }
            }
            print("ok: \(config): \(configuration.providers.count) provider(s), \(configuration.models.count) model(s), \(configuration.routes.count) route(s)\(pricingNote), listening on \(configuration.listen)")
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
    }
}
