import ArchwayCore
import Yams

extension NodeReader {
    /// Every model name the file declares, valid or not, so a route naming a model that has its own
    /// problem is not reported a second time as unknown.
    func declaredModels(_ node: Node?) -> Set<String> {
        guard case .mapping(let mapping)? = node else { return [] }
        return Set(mapping.compactMap { $0.key.string })
    }

    mutating func routes(_ node: Node, _ path: String, models: [ModelConfiguration], providers: [String: ProviderConfiguration], declaredModels: Set<String>) -> [RouteConfiguration] {
        let byName = Dictionary(models.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var routes: [RouteConfiguration] = []
        for entry in mapping(node, path, allowed: nil) ?? [] {
            let routePath = "\(path).\(entry.key)"
            if declaredModels.contains(entry.key) {
                report(entry.keyNode, routePath, "route '\(entry.key)' has the name of a model: clients could not tell which one they get")
                continue
            }
            if let route = route(entry.key, entry.value, routePath, models: byName, providers: providers, declaredModels: declaredModels) {
                routes.append(route)
            }
        }
        return routes
    }

    mutating func route(
        _ name: String,
        _ node: Node,
        _ path: String,
        models: [String: ModelConfiguration],
        providers: [String: ProviderConfiguration] = [:],
        declaredModels: Set<String>
    ) -> RouteConfiguration? {
        let keys: Set<String> = ["strategy", "candidates", "weights", "min_quality", "latency_budget_ms", "value_of_time", "retries", "ejection", "under_load", "consistency", "policy"]
        guard let entries = mapping(node, path, allowed: keys) else { return nil }
        var route = RouteConfiguration(name: name, strategy: .fallback, candidates: [])
        var valid = true
        var candidatesNode: Node?
        var weightsEntry: (keyNode: Node, value: Node)?
        var minQualityNode: Node?
        var underLoadNode: Node?
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "strategy":
                guard let text = string(entry.value, childPath) else { valid = false; continue }
                guard let strategy = RouteConfiguration.Strategy(rawValue: text) else {
                    report(entry.value, childPath, "unknown strategy '\(text)' (expected one of: \(RouteConfiguration.Strategy.allCases.map(\.rawValue).joined(separator: ", ")))")
                    valid = false
                    continue
                }
                route.strategy = strategy
            case "candidates":
                candidatesNode = entry.value
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    guard let candidate = string(item, "\(childPath)[\(index)]") else { valid = false; continue }
                    if models[candidate] == nil {
                        if !declaredModels.contains(candidate) {
                            report(item, "\(childPath)[\(index)]", "unknown candidate '\(candidate)': it is not a model in models")
                        }
                        valid = false
                    } else if route.candidates.contains(candidate) {
                        report(item, "\(childPath)[\(index)]", "candidate '\(candidate)' is listed twice")
                        valid = false
                    } else {
                        route.candidates.append(candidate)
                    }
                }
            case "weights":
                weightsEntry = (entry.keyNode, entry.value)
            case "min_quality":
                minQualityNode = entry.value
                route.minQuality = double(entry.value, childPath, range: 0...1)
            case "latency_budget_ms":
                route.latencyBudget = int(entry.value, childPath, range: 1...3_600_000).map { .milliseconds($0) }
            case "value_of_time":
                route.valueOfTime = double(entry.value, childPath, range: 0...1_000) ?? 0
            case "retries":
                route.retries = retries(entry.value, childPath)
            case "ejection":
                route.ejection = ejection(entry.value, childPath)
            case "under_load":
                underLoadNode = entry.value
                route.underLoad = underLoad(entry.value, childPath)
                if route.underLoad == nil { valid = false }
            case "policy":
                route.policyExempt = policyNone(entry.value, childPath)
            case "consistency":
                route.consistency = consistency(entry.value, childPath, models: models, providers: providers, declaredModels: declaredModels)
                if route.consistency == nil { valid = false }
            default:
                break
            }
        }
        if candidatesNode == nil {
            report(node, "\(path).candidates", "missing required key 'candidates' (the models this route chooses from)")
            return nil
        }
        if let weightsEntry {
            if route.strategy != .weighted {
                report(weightsEntry.keyNode, "\(path).weights", "weights apply only to strategy: weighted (this route's strategy is \(route.strategy.rawValue))")
                valid = false
            }
            for weight in mapping(weightsEntry.value, "\(path).weights", allowed: nil) ?? [] {
                let weightPath = "\(path).weights.\(weight.key)"
                guard route.candidates.contains(weight.key) else {
                    report(weight.keyNode, weightPath, "'\(weight.key)' is not a candidate of this route")
                    valid = false
                    continue
                }
                if let value = double(weight.value, weightPath, range: 0...1_000_000) { route.weights[weight.key] = value }
            }
            // A candidate without a weight weighs 1; weight 0 makes a candidate a fallback only, so at
            // least one must weigh something.
            if route.strategy == .weighted, !route.candidates.isEmpty, route.candidates.allSatisfy({ route.weights[$0] == 0 }) {
                report(weightsEntry.keyNode, "\(path).weights", "every candidate weighs 0, so none could be drawn first; give at least one a positive weight")
                valid = false
            }
        }
        if let bar = route.minQuality, valid, !route.candidates.isEmpty {
            let qualities = route.candidates.map { (name: $0, quality: models[$0]?.quality) }
            if !qualities.contains(where: { ($0.quality ?? 0) >= bar }) {
                let listed = qualities.map { "\($0.name) \($0.quality.map { String($0) } ?? "undeclared")" }.joined(separator: ", ")
                report(minQualityNode, "\(path).min_quality", "no candidate meets min_quality \(bar) (\(listed)); a model's quality is declared with models.NAME.quality")
                valid = false
            }
        }
        if let relaxed = route.underLoad, valid, !route.candidates.isEmpty {
            if route.minQuality == nil {
                // No bar is the lowest bar: "relaxed" to this one, the route would turn stricter under load.
                report(underLoadNode, "\(path).under_load", "under_load relaxes the route's min_quality, which this route does not set")
                valid = false
            } else if let bar = route.minQuality, relaxed.minQuality > bar {
                report(underLoadNode, "\(path).under_load.min_quality", "the bar under load (\(relaxed.minQuality)) must not be above the route's min_quality (\(bar))")
                valid = false
            } else if !route.candidates.contains(where: { (models[$0]?.quality ?? 0) >= relaxed.minQuality }) {
                report(underLoadNode, "\(path).under_load.min_quality", "no candidate meets min_quality \(relaxed.minQuality) under load")
                valid = false
            }
        }
        if valid, route.strategy == .cost {
            for candidate in route.candidates where models[candidate]?.price == nil {
                report(candidatesNode, "\(path).candidates", "strategy cost needs a price on every candidate: '\(candidate)' has none (models.\(candidate).price)")
                valid = false
            }
        }
        if valid, route.candidates.isEmpty {
            report(candidatesNode, "\(path).candidates", "a route needs at least one candidate")
            valid = false
        }
        return valid ? route : nil
    }

    mutating func retries(_ node: Node, _ path: String) -> RouteConfiguration.Retries {
        var retries = RouteConfiguration.Retries()
        for entry in mapping(node, path, allowed: ["max", "backoff_ms", "on"]) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "max": retries.max = int(entry.value, childPath, range: 0...10) ?? retries.max
            case "backoff_ms": retries.backoff = int(entry.value, childPath, range: 0...60_000).map { .milliseconds($0) } ?? retries.backoff
            default:
                var conditions: Set<RouteConfiguration.RetryCondition> = []
                for (index, item) in (sequence(entry.value, childPath) ?? []).enumerated() {
                    guard let text = string(item, "\(childPath)[\(index)]") else { continue }
                    guard let condition = RouteConfiguration.RetryCondition(rawValue: text) else {
                        report(item, "\(childPath)[\(index)]", "unknown condition '\(text)' (expected one of: 429, 5xx, timeout)")
                        continue
                    }
                    conditions.insert(condition)
                }
                retries.on = conditions
            }
        }
        return retries
    }

    /// `{in_flight_above: N, min_quality: Q}`, both required.
    mutating func underLoad(_ node: Node, _ path: String) -> RouteConfiguration.UnderLoad? {
        guard let entries = mapping(node, path, allowed: ["in_flight_above", "min_quality"]) else { return nil }
        var threshold: Int?
        var bar: Double?
        var present: Set<String> = []
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            present.insert(entry.key)
            switch entry.key {
            case "in_flight_above": threshold = int(entry.value, childPath, range: 1...1_000_000)
            default: bar = double(entry.value, childPath, range: 0...1)
            }
        }
        guard let threshold, let bar else {
            // A value that was there but invalid has been reported already.
            if present.count < 2 { report(node, path, "under_load needs both in_flight_above and min_quality") }
            return nil
        }
        return RouteConfiguration.UnderLoad(inFlightAbove: threshold, minQuality: bar)
    }

    /// `{reference, sample_rate?, window?, min_score?, min_samples?, recovery_sample_rate?, embeddings?}`.
    mutating func consistency(
        _ node: Node,
        _ path: String,
        models: [String: ModelConfiguration],
        providers: [String: ProviderConfiguration],
        declaredModels: Set<String>
    ) -> RouteConfiguration.Consistency? {
        let keys: Set<String> = ["reference", "sample_rate", "window", "min_score", "min_samples", "recovery_sample_rate", "embeddings"]
        guard let entries = mapping(node, path, allowed: keys) else { return nil }
        var settings = RouteConfiguration.Consistency(reference: "")
        var valid = true
        var minSamples: (Int, Node)?
        var recoveryRate: Double?
        /// A configured model, or a report saying why not.
        func configuredModel(_ reader: inout NodeReader, _ value: Node, _ childPath: String, role: String) -> ModelConfiguration? {
            guard let name = reader.string(value, childPath) else { return nil }
            guard let model = models[name] else {
                if !declaredModels.contains(name) {
                    reader.report(value, childPath, "unknown \(role) '\(name)': it is not a model in models")
                }
                return nil
            }
            return model
        }
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "reference":
                guard let model = configuredModel(&self, entry.value, childPath, role: "reference model") else { valid = false; continue }
                settings.reference = model.name
            case "sample_rate":
                guard let rate = double(entry.value, childPath, range: 0...1) else { valid = false; continue }
                if rate == 0 {
                    report(entry.value, childPath, "sample_rate must be above 0 (remove consistency to switch sampling off)")
                    valid = false
                }
                settings.sampleRate = rate
            case "window":
                guard let window = int(entry.value, childPath, range: 1...10_000) else { valid = false; continue }
                settings.window = window
            case "min_score":
                guard let score = double(entry.value, childPath, range: 0...1) else { valid = false; continue }
                settings.minScore = score
            case "min_samples":
                guard let samples = int(entry.value, childPath, range: 1...10_000) else { valid = false; continue }
                minSamples = (samples, entry.value)
            case "recovery_sample_rate":
                guard let rate = double(entry.value, childPath, range: 0...1) else { valid = false; continue }
                recoveryRate = rate
            default:
                guard let model = configuredModel(&self, entry.value, childPath, role: "embeddings model") else { valid = false; continue }
                if providers[model.provider]?.kind == .anthropic {
                    report(entry.value, childPath, "'\(model.name)' cannot serve embeddings: its provider '\(model.provider)' is an Anthropic API, which has no embeddings endpoint")
                    valid = false
                }
                settings.embeddings = model.name
            }
        }
        if !entries.contains(where: { $0.key == "reference" }) {
            report(node, "\(path).reference", "missing required key 'reference' (the model whose answers count as right)")
            return nil
        }
        if let (samples, samplesNode) = minSamples {
            if samples > settings.window {
                report(samplesNode, "\(path).min_samples", "min_samples (\(samples)) cannot exceed window (\(settings.window))")
                valid = false
            }
            settings.minSamples = samples
        } else {
            settings.minSamples = min(10, settings.window)
        }
        settings.recoveryRate = recoveryRate ?? settings.sampleRate
        return valid ? settings : nil
    }

    /// `{max_concurrency?, queue_size?}`.
    mutating func shadow(_ node: Node, _ path: String) -> ShadowSettings {
        var settings = ShadowSettings()
        for entry in mapping(node, path, allowed: ["max_concurrency", "queue_size"]) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "max_concurrency": settings.maxConcurrency = int(entry.value, childPath, range: 1...256) ?? settings.maxConcurrency
            default: settings.queueSize = int(entry.value, childPath, range: 1...100_000) ?? settings.queueSize
            }
        }
        return settings
    }

    mutating func ejection(_ node: Node, _ path: String) -> RouteConfiguration.Ejection {
        var ejection = RouteConfiguration.Ejection()
        for entry in mapping(node, path, allowed: ["consecutive_failures", "failure_rate", "min_calls", "base_ms"]) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "consecutive_failures": ejection.consecutiveFailures = int(entry.value, childPath, range: 1...1_000) ?? ejection.consecutiveFailures
            case "failure_rate": ejection.failureRate = double(entry.value, childPath, range: 0.01...1) ?? ejection.failureRate
            case "min_calls": ejection.minCalls = int(entry.value, childPath, range: 1...100_000) ?? ejection.minCalls
            default: ejection.base = int(entry.value, childPath, range: 1...3_600_000).map { .milliseconds($0) } ?? ejection.base
            }
        }
        return ejection
    }

    mutating func pricing(_ node: Node, _ path: String) -> PricingSettings {
        var settings = PricingSettings()
        for entry in mapping(node, path, allowed: ["file"]) ?? [] {
            guard let file = string(entry.value, "\(path).file") else { continue }
            settings.file = Self.resolve(file, against: self.file)
        }
        return settings
    }

    /// A path relative to the configuration file's folder.
    static func resolve(_ path: String, against configurationFile: String) -> String {
        guard !path.hasPrefix("/"), let slash = configurationFile.lastIndex(of: "/") else { return path }
        return String(configurationFile[...slash]) + path
    }

    /// A pricing document (`PUT /admin/pricing`, `pricing.file`): `{models: {NAME: {input, output, cached_input?, schedule?}}}`.
    mutating func pricingDocument(_ root: Node?, knownModels: Set<String>) -> [String: PriceSchedule] {
        guard let root else {
            report(nil, "", "the document is empty")
            return [:]
        }
        var prices: [String: PriceSchedule] = [:]
        for section in mapping(root, "", allowed: ["models"]) ?? [] {
            for model in mapping(section.value, "models", allowed: nil) ?? [] {
                let modelPath = "models.\(model.key)"
                guard knownModels.contains(model.key) else {
                    report(model.keyNode, modelPath, "unknown model '\(model.key)'")
                    continue
                }
                let (base, schedule) = pricedSchedule(model.value, modelPath)
                if let base { prices[model.key] = PriceSchedule(base: base, entries: schedule) }
            }
        }
        return prices
    }
}
