import ArchwayConfig
import ArchwayRouting
import Logging
import ServiceLifecycle

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reloads `pricing.file` when it changes (read every `interval`): its prices replace those of the
/// models it names, at once, and a model it stops naming goes back to its configured price. A file with
/// problems is reported and left unapplied; the prices in force stay. So do they when the file goes away
/// (a deploy step between removing and writing it, say), which is reported once.
///
/// A change is a change of the file's text or of its target's modification time: a Kubernetes ConfigMap
/// is a symbolic link whose own time never changes while the file behind it is swapped, and `cp -p` or
/// `rsync -t` replace a file keeping its time; a `touch` applies the file again (over a `PUT
/// /admin/pricing`, say). A prices file is small; reading it each second is cheap.
struct PricingFileWatcher: Service {
    let path: String
    let pricing: PricingIndex
    let knownModels: Set<String>
    let loader: ConfigurationLoader
    let logger: Logger
    var interval: Duration = .seconds(1)

    /// What the last look at the file found, so each problem is reported once.
    enum FileState: Equatable {
        case applied(String, modified: Date?)
        case missing
        case unreadable
    }

    /// Reads the file now and applies it when its text differs from what was last read; reports a
    /// file gone or unreadable once.
    func check(after previous: FileState?) -> FileState {
        guard FileManager.default.fileExists(atPath: path) else {
            if previous == nil {
                logger.warning("pricing file not found; it is applied once it appears", metadata: ["file": "\(path)"])
            } else if previous != .missing {
                logger.warning("pricing file removed; the prices it set stay in force until it is back", metadata: ["file": "\(path)"])
            }
            return .missing
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if previous != .unreadable { logger.warning("pricing file cannot be read", metadata: ["file": "\(path)"]) }
            return .unreadable
        }
        // The time of the file the path leads to, through any symbolic links.
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let modified = (try? FileManager.default.attributesOfItem(atPath: target))?[.modificationDate] as? Date
        let state = FileState.applied(text, modified: modified)
        if previous == state { return state }
        do {
            let prices = try loader.loadPricing(yaml: text, file: path, knownModels: knownModels)
            pricing.replaceFromFile(prices)
            logger.info("pricing file loaded", metadata: ["file": "\(path)", "models": "\(prices.keys.sorted().joined(separator: ","))"])
        } catch {
            logger.warning("pricing file not applied: \(error.description)")
        }
        // Read, applied or not: the same file is not read as a change again (nor reported again).
        return state
    }

    func run() async throws {
        var state = check(after: nil)
        await repeatUntilGracefulShutdown(every: interval, pauseFirst: true) {
            state = check(after: state)
        }
    }
}
