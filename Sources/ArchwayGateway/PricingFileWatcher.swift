import ArchwayConfig
import ArchwayRouting
import Logging
import ServiceLifecycle

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reloads `pricing.file` when it changes (checked every `interval`): its prices replace those of the
/// models it names, at once, and a model it stops naming goes back to its configured price. A file with
/// problems is reported and left unapplied; the prices in force stay. So do they when the file goes away
/// (a deploy step between removing and writing it, say), which is reported once.
struct PricingFileWatcher: Service {
    let path: String
    let pricing: PricingIndex
    let knownModels: Set<String>
    let loader: ConfigurationLoader
    let logger: Logger
    var interval: Duration = .seconds(1)

    /// Reads the file now; returns its modification stamp (nil when it cannot be read).
    @discardableResult
    func load(after previous: Date? = nil) -> Date? {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = attributes?[.modificationDate] as? Date
        guard let stamp, stamp != previous else { return stamp ?? previous }
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let prices = try loader.loadPricing(yaml: text, file: path, knownModels: knownModels)
            pricing.replaceFromFile(prices)
            logger.info("pricing file loaded", metadata: ["file": "\(path)", "models": "\(prices.keys.sorted().joined(separator: ","))"])
        } catch let error as ConfigurationError {
            logger.warning("pricing file not applied: \(error.description)")
        } catch {
            logger.warning("pricing file cannot be read", metadata: ["file": "\(path)"])
        }
        return stamp
    }

    func run() async throws {
        var stamp = load()
        var missing = stamp == nil
        if missing { logger.warning("pricing file not found; it is applied once it appears", metadata: ["file": "\(path)"]) }
        await repeatUntilGracefulShutdown(every: interval, pauseFirst: true) {
            let exists = FileManager.default.fileExists(atPath: path)
            if !exists, !missing {
                logger.warning("pricing file removed; the prices it set stay in force until it is back", metadata: ["file": "\(path)"])
            }
            missing = !exists
            stamp = load(after: stamp)
        }
    }
}
