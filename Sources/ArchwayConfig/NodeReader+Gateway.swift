import ArchwayCore
import Yams

extension NodeReader {
    mutating func gateway(_ root: Node?) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        guard let root else {
            report(nil, "", "the configuration is empty")
            return configuration
        }
        let sections: Set<String> = ["listen", "server", "upstream", "providers", "models", "routes", "pricing", "telemetry", "shadow", "workflows", "policy"]
        var modelsNode: Node?
        var routesNode: Node?
        var workflowsNode: Node?
        var providersSeen = false
        // Every declared provider name, valid or not, so a model naming a provider that has its own
        // problem is not reported a second time as "not defined".
        var declaredProviders: Set<String> = []
        for entry in mapping(root, "", allowed: sections) ?? [] {
            switch entry.key {
            case "listen":
                if let address = listen(entry.value, "listen") { configuration.listen = address }
            case "server":
                configuration.server = server(entry.value, "server")
            case "upstream":
                configuration.upstream = upstream(entry.value, "upstream")
            case "providers":
                providersSeen = true
                for provider in mapping(entry.value, "providers", allowed: nil) ?? [] {
                    declaredProviders.insert(provider.key)
                    if let parsed = self.provider(provider.key, provider.value, "providers.\(provider.key)") {
                        configuration.providers[provider.key] = parsed
                    }
                }
            case "models":
                modelsNode = entry.value
            case "routes":
                routesNode = entry.value
            case "pricing":
                configuration.pricing = pricing(entry.value, "pricing")
            case "telemetry":
                configuration.telemetry = telemetry(entry.value, "telemetry")
            case "shadow":
                configuration.shadow = shadow(entry.value, "shadow")
            case "workflows":
                workflowsNode = entry.value
            case "policy":
                configuration.policy = policy(entry.value, "policy")
            default:
                break
            }
        }
        if !providersSeen { report(root, "providers", "at least one provider is required") }
        if let modelsNode {
            for model in mapping(modelsNode, "models", allowed: nil) ?? [] {
                if let parsed = self.model(model.key, model.value, "models.\(model.key)", providers: configuration.providers, declared: declaredProviders) {
                    configuration.models.append(parsed)
                }
            }
        } else {
            report(root, "models", "at least one model is required")
        }
        if let routesNode {
            configuration.routes = routes(routesNode, "routes", models: configuration.models, providers: configuration.providers, declaredModels: declaredModels(modelsNode))
        }
        if let workflowsNode {
            // Every name the file declares, read well or not: a model whose provider has an error is
            // reported there, not again as unknown in each step that calls it.
            let callable = declaredModels(modelsNode).union(declaredModels(routesNode))
            configuration.workflows = workflows(workflowsNode, "workflows", callable: callable)
        }
        if !configuration.listen.isLoopback, configuration.server.masterKey == nil {
            report(root, "server.master_key", "listening on \(configuration.listen) (beyond loopback) requires server.master_key, so the gateway is never open to the network by accident")
        }
        return configuration
    }

    mutating func listen(_ node: Node, _ path: String) -> ListenAddress? {
        guard let text = string(node, path) else { return nil }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[close...].dropFirst(2)
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            report(node, path, "expected HOST:PORT, got '\(text)'")
            return nil
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            report(node, path, "expected HOST:PORT with a port from 0 to 65535, got '\(text)'")
            return nil
        }
        return ListenAddress(host: String(host), port: port)
    }

    mutating func server(_ node: Node, _ path: String) -> ServerSettings {
        var settings = ServerSettings()
        for entry in mapping(node, path, allowed: ["max_body_bytes", "shutdown_timeout", "master_key", "idle_timeout", "read_timeout"]) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "max_body_bytes": settings.maxBodyBytes = int(entry.value, childPath, range: 1...1_073_741_824) ?? settings.maxBodyBytes
            case "shutdown_timeout": settings.shutdownTimeout = duration(entry.value, childPath) ?? settings.shutdownTimeout
            case "idle_timeout", "read_timeout":
                guard let value = duration(entry.value, childPath) else { break }
                guard value >= .seconds(1), value <= .seconds(3600) else {
                    report(entry.value, childPath, "must be between 1s and 1h")
                    break
                }
                if entry.key == "idle_timeout" { settings.idleTimeout = value } else { settings.readTimeout = value }
            case "master_key":
                if let key = secret(entry.value, childPath) {
                    // An HTTP field value cannot begin or end with whitespace nor hold a control character,
                    // so no client could ever send such a key (a key file's trailing newline, say).
                    if key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
                        || key.first?.isWhitespace == true || key.last?.isWhitespace == true {
                        report(entry.value, childPath, "must not begin or end with whitespace nor hold control characters (a trailing newline?): no client could send it")
                    } else if key.count < 16 {
                        report(entry.value, childPath, "must be at least 16 characters long")
                    } else {
                        settings.masterKey = key
                    }
                }
            default: break
            }
        }
        return settings
    }

    mutating func upstream(_ node: Node, _ path: String) -> UpstreamSettings {
        var settings = UpstreamSettings()
        let keys: Set<String> = ["connect_timeout", "first_byte_timeout", "request_timeout", "max_retries", "max_connections_per_host"]
        for entry in mapping(node, path, allowed: keys) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "connect_timeout": settings.connectTimeout = positiveDuration(entry.value, childPath) ?? settings.connectTimeout
            case "first_byte_timeout": settings.firstByteTimeout = positiveDuration(entry.value, childPath) ?? settings.firstByteTimeout
            case "request_timeout": settings.requestTimeout = positiveDuration(entry.value, childPath) ?? settings.requestTimeout
            case "max_retries": settings.maxRetries = int(entry.value, childPath, range: 0...10) ?? settings.maxRetries
            case "max_connections_per_host": settings.maxConnectionsPerHost = int(entry.value, childPath, range: 1...65_536) ?? settings.maxConnectionsPerHost
            default: break
            }
        }
        return settings
    }

    mutating func positiveDuration(_ node: Node, _ path: String) -> Duration? {
        guard let value = duration(node, path) else { return nil }
        if value <= .zero {
            report(node, path, "must be longer than zero")
            return nil
        }
        return value
    }

    mutating func provider(_ name: String, _ node: Node, _ path: String) -> ProviderConfiguration? {
        let keys: Set<String> = ["kind", "base_url", "api_key", "headers", "provider_name", "simulator"]
        guard let entries = mapping(node, path, allowed: keys) else { return nil }
        var kind: ProviderConfiguration.Kind?
        var baseURL: String?
        var apiKey: String?
        var headers: [(name: String, value: String)] = []
        var providerName: String?
        var simulator = SimulatorSettings()
        var simulatorNode: Node?
        var valid = true
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "kind":
                guard let text = string(entry.value, childPath) else { valid = false; continue }
                kind = ProviderConfiguration.Kind(rawValue: text)
                if kind == nil {
                    let supported = ProviderConfiguration.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    report(entry.value, childPath, "unknown provider kind '\(text)' (supported: \(supported))")
                    valid = false
                }
            case "base_url":
                baseURL = url(entry.value, childPath).map(ProviderConfiguration.apiRoot)
                if baseURL == nil { valid = false }
            case "api_key":
                apiKey = secret(entry.value, childPath)
                if apiKey == nil { valid = false }
                if let key = apiKey, !HeaderValidity.isSendableValue(key) {
                    // The key itself is never echoed.
                    report(entry.value, childPath, "the API key holds a character an HTTP header cannot carry (a line break or another control character)")
                    valid = false
                }
            case "provider_name":
                providerName = string(entry.value, childPath)
                if providerName?.allSatisfy(\.isWhitespace) == true {
                    report(entry.value, childPath, "must not be empty (leave the key out for the kind's own name)")
                    valid = false
                }
            case "headers":
                for header in mapping(entry.value, childPath, allowed: nil) ?? [] {
                    let lowered = header.key.lowercased()
                    if ProviderConfiguration.reservedHeaderNames.contains(lowered) {
                        report(header.keyNode, "\(childPath).\(header.key)", "this header is set by Archway and cannot be configured")
                    } else if !HeaderValidity.isSendableName(header.key) {
                        report(header.keyNode, "\(childPath).\(header.key)", "'\(header.key)' is not a valid HTTP header name")
                        valid = false
                    } else if let value = secret(header.value, "\(childPath).\(header.key)") {
                        if HeaderValidity.isSendableValue(value) {
                            headers.append((header.key, value))
                        } else {
                            report(header.value, "\(childPath).\(header.key)", "the value holds a character an HTTP header cannot carry (a line break or another control character)")
                            valid = false
                        }
                    }
                }
            case "simulator":
                simulator = simulatorSettings(entry.value, childPath)
                simulatorNode = entry.value
            default:
                break
            }
        }
        guard let kind else {
            if valid { report(node, "\(path).kind", "missing required key 'kind'") }
            return nil
        }
        if let simulatorNode, kind != .simulator || baseURL != nil {
            // Settings nothing would read: an external simulator takes its own flags and `x-simulator-*` headers.
            report(simulatorNode, "\(path).simulator", kind == .simulator
                ? "simulator settings apply to an embedded simulator only (no base_url); an external one takes them as flags or x-simulator-* headers"
                : "simulator settings apply to kind: simulator only")
            valid = false
        }
        if kind != .simulator, baseURL == nil, valid {
            switch kind {
            case .openai: baseURL = "https://api.openai.com/v1"
            case .anthropic: baseURL = "https://api.anthropic.com/v1"
            case .simulator: break
            }
        }
        guard valid else { return nil }
        return ProviderConfiguration(
            name: name,
            kind: kind,
            baseURL: baseURL,
            apiKey: apiKey,
            headers: headers,
            providerName: providerName,
            simulator: simulator
        )
    }

    mutating func simulatorSettings(_ node: Node, _ path: String) -> SimulatorSettings {
        var settings = SimulatorSettings()
        let keys: Set<String> = ["latency", "time_to_first_token", "tokens_per_second", "error_rate", "error_status", "rate_limit_rate", "seed", "quality", "echo"]
        for entry in mapping(node, path, allowed: keys) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "latency": settings.latency = duration(entry.value, childPath) ?? settings.latency
            case "time_to_first_token": settings.timeToFirstToken = duration(entry.value, childPath) ?? settings.timeToFirstToken
            case "tokens_per_second": settings.tokensPerSecond = double(entry.value, childPath, range: 0.1...1_000_000) ?? settings.tokensPerSecond
            case "error_rate": settings.errorRate = double(entry.value, childPath, range: 0...1) ?? settings.errorRate
            case "error_status": settings.errorStatus = int(entry.value, childPath, range: 400...599) ?? settings.errorStatus
            case "rate_limit_rate": settings.rateLimitRate = double(entry.value, childPath, range: 0...1) ?? settings.rateLimitRate
            case "quality": settings.quality = double(entry.value, childPath, range: 0...1) ?? settings.quality
            case "echo": settings.echo = bool(entry.value, childPath) ?? settings.echo
            case "seed": settings.seed = int(entry.value, childPath, range: 0...Int.max).map(UInt64.init) ?? settings.seed
            default: break
            }
        }
        return settings
    }

    mutating func model(_ name: String, _ node: Node, _ path: String, providers: [String: ProviderConfiguration], declared: Set<String>) -> ModelConfiguration? {
        guard let entries = mapping(node, path, allowed: ["provider", "model", "price", "quality", "policy"]) else { return nil }
        var provider: String?
        var upstreamModel: String?
        var price: ModelPrice?
        var schedule: [PriceSchedule.Entry] = []
        var quality: Double?
        var providerNode: Node?
        var exempt = false
        for entry in entries {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "provider":
                provider = string(entry.value, childPath)
                providerNode = entry.value
            case "model":
                upstreamModel = string(entry.value, childPath)
                if upstreamModel?.allSatisfy(\.isWhitespace) == true {
                    report(entry.value, childPath, "must not be empty (leave the key out to send the model's own name upstream)")
                    return nil
                }
            case "price":
                (price, schedule) = self.pricedSchedule(entry.value, childPath)
            case "quality":
                quality = double(entry.value, childPath, range: 0...1)
            case "policy":
                exempt = policyNone(entry.value, childPath)
            default:
                break
            }
        }
        guard let provider else {
            if providerNode == nil { report(node, "\(path).provider", "missing required key 'provider'") }
            return nil
        }
        guard providers[provider] != nil else {
            if !declared.contains(provider) {
                report(providerNode, "\(path).provider", "provider '\(provider)' is not defined in providers")
            }
            return nil
        }
        var model = ModelConfiguration(name: name, provider: provider, upstreamModel: upstreamModel, price: price, priceSchedule: schedule, quality: quality)
        model.policyExempt = exempt
        return model
    }

    /// `policy: none` (the only value a model or route may set: it opts out of the policy stage).
    mutating func policyNone(_ node: Node, _ path: String) -> Bool {
        guard let text = string(node, path) else { return false }
        guard text == "none" else {
            report(node, path, "expected 'none' (the only policy a model or route sets: it is exempt from the policy stage)")
            return false
        }
        return true
    }

    /// A model's `price`: the base price and its `schedule`.
    mutating func pricedSchedule(_ node: Node, _ path: String) -> (ModelPrice?, [PriceSchedule.Entry]) {
        guard let entries = mapping(node, path, allowed: ["input", "output", "cached_input", "schedule"]) else { return (nil, []) }
        let base = price(node, path, entries: entries.filter { $0.key != "schedule" })
        guard let scheduleNode = entries.first(where: { $0.key == "schedule" })?.value else { return (base, []) }
        return (base, schedule(scheduleNode, "\(path).schedule"))
    }

    /// `[{hours: "HH:MM-HH:MM", input, output, cached_input?}, …]`; windows may not overlap.
    mutating func schedule(_ node: Node, _ path: String) -> [PriceSchedule.Entry] {
        var result: [PriceSchedule.Entry] = []
        for (index, item) in (sequence(node, path) ?? []).enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let entries = mapping(item, itemPath, allowed: ["hours", "input", "output", "cached_input"]) else { continue }
            guard let hoursNode = entries.first(where: { $0.key == "hours" })?.value else {
                report(item, "\(itemPath).hours", "missing required key 'hours' (\"HH:MM-HH:MM\", UTC)")
                continue
            }
            guard let text = string(hoursNode, "\(itemPath).hours") else { continue }
            guard let window = DailyWindow(parsing: text) else {
                report(hoursNode, "\(itemPath).hours", "'\(text)' is not a time window: expected \"HH:MM-HH:MM\" (UTC; 16:30-00:30 runs across midnight, 00:00-24:00 is the whole day; a window cannot be empty)")
                continue
            }
            if let clash = result.first(where: { $0.window.overlaps(window) }) {
                report(hoursNode, "\(itemPath).hours", "window \(window) overlaps \(clash.window), which is listed before it")
                continue
            }
            guard let price = price(item, itemPath, entries: entries.filter { $0.key != "hours" }) else { continue }
            result.append(PriceSchedule.Entry(window: window, price: price))
        }
        return result
    }

    mutating func price(_ node: Node, _ path: String) -> ModelPrice? {
        guard let entries = mapping(node, path, allowed: ["input", "output", "cached_input"]) else { return nil }
        return price(node, path, entries: entries)
    }

    mutating func price(_ node: Node, _ path: String, entries: [(key: String, keyNode: Node, value: Node)]) -> ModelPrice? {
        var input: Double?
        var output: Double?
        var cached: Double?
        var invalid = false
        for entry in entries {
            let value = double(entry.value, "\(path).\(entry.key)", range: 0...1_000_000)
            if value == nil { invalid = true }
            switch entry.key {
            case "input": input = value
            case "output": output = value
            default: cached = value
            }
        }
        // A value already reported is not reported again as missing.
        guard !invalid else { return nil }
        guard let input, let output else {
            report(node, path, "a price needs both input and output (USD per million tokens)")
            return nil
        }
        return ModelPrice(input: input, output: output, cachedInput: cached)
    }

    mutating func telemetry(_ node: Node, _ path: String) -> TelemetrySettings {
        var settings = TelemetrySettings()
        for entry in mapping(node, path, allowed: ["capture_content", "flush_timeout"]) ?? [] {
            let childPath = "\(path).\(entry.key)"
            switch entry.key {
            case "flush_timeout": settings.flushTimeout = duration(entry.value, childPath) ?? settings.flushTimeout
            default:
                switch entry.value.string?.lowercased() {
                case "redacted":
                    settings.captureContent = true
                    settings.captureRedacted = true
                case "true", "false", "yes", "no", "on", "off":
                    settings.captureContent = bool(entry.value, childPath) ?? settings.captureContent
                case let other?:
                    report(entry.value, childPath, "expected true, false or redacted, got '\(other)'")
                case nil:
                    _ = bool(entry.value, childPath)  // not a scalar: reported as such
                }
            }
        }
        return settings
    }
}
