@testable import ArchwayConfig
import Testing

@Suite struct ConfigurationLoaderTests {
    let loader = ConfigurationLoader(environment: ["OPENAI_KEY": "sk-from-env", "EMPTY": ""])

    /// The GenAI conventions' well-known names: "if one of them applies, the respective value MUST be used".
    @Test(arguments: [
        ("https://api.openai.com/v1", "openai"), ("https://my.openai.azure.com/openai", "azure.ai.openai"),
        ("https://api.mistral.ai/v1", "mistral_ai"), ("https://api.moonshot.ai/v1", "moonshot_ai"),
        ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/openapi", "gcp.vertex_ai"),
        ("https://generativelanguage.googleapis.com/v1beta/openai", "gcp.gemini"), ("http://127.0.0.1:8000/v1", "openai"),
    ])
    func providerNamesComeFromTheHost(url: String, name: String) {
        #expect(ProviderConfiguration.defaultProviderName(kind: .openai, baseURL: url) == name)
    }

    @Test func loadsTheContractShape() throws {
        let configuration = try loader.load(yaml: """
        listen: 127.0.0.1:9000
        providers:
          openai:
            kind: openai
            base_url: https://api.openai.com/v1/
            api_key: ${OPENAI_KEY}
          claude:
            kind: anthropic
            api_key: literal-key
          deep:
            kind: openai
            base_url: https://api.deepseek.com/v1
        models:
          gpt-4o-mini:
            provider: openai
            price: {input: 0.15, output: 0.60}
          sonnet:
            provider: claude
            model: claude-sonnet-4-5
        telemetry:
          capture_content: true
        """)
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 9000))
        #expect(configuration.providers["openai"]?.apiKey == "sk-from-env")
        #expect(configuration.providers["openai"]?.baseURL == "https://api.openai.com/v1")
        #expect(configuration.providers["claude"]?.baseURL == "https://api.anthropic.com/v1")
        #expect(configuration.providers["claude"]?.providerName == "anthropic")
        #expect(configuration.providers["deep"]?.providerName == "deepseek")
        #expect(configuration.models.map(\.name) == ["gpt-4o-mini", "sonnet"])
        #expect(configuration.models[0].upstreamModel == "gpt-4o-mini")
        #expect(configuration.models[1].upstreamModel == "claude-sonnet-4-5")
        #expect(configuration.models[0].price?.output == 0.60)
        #expect(configuration.telemetry.captureContent)
    }

    @Test func reportsEveryProblemWithLocationAndKey() {
        do {
            _ = try loader.load(yaml: """
            listen: 127.0.0.1:8080
            providers:
              a:
                kind: openai
                base_url: not a url
                api_key: ${MISSING_KEY}
                kindd: x
              b:
                kind: gemini-ish
            models:
              m1:
                provider: nowhere
              m2:
                provider: a
            """, file: "gw.yaml")
            Issue.record("expected a configuration error")
        } catch {
            let lines = error.problems.map(\.description)
            // m2's provider has problems of its own: it is not reported again as undefined.
            #expect(lines.count == 5, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("gw.yaml:5:15: error: providers.a.base_url:") && $0.contains("not a valid URL") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:6:14: error: providers.a.api_key:") && $0.contains("'MISSING_KEY' is not set") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:7:5: error: providers.a.kindd:") && $0.contains("unknown key") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:9:11: error: providers.b.kind:") && $0.contains("unknown provider kind") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:12:15: error: models.m1.provider:") && $0.contains("'nowhere' is not defined") })
        }
    }

    @Test func mistakesUsersMakeWithURLsAndVariablesAreNamed() {
        func problems(_ yaml: String) -> [String] {
            do {
                _ = try loader.load(yaml: yaml)
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        let models = "\nmodels: {m: {provider: p}}"
        #expect(problems(#"providers: {p: {kind: openai, base_url: "http://alice:pw@127.0.0.1:9/v1"}}"# + models).contains { $0.contains("must not carry credentials") })
        #expect(problems(#"providers: {p: {kind: openai, base_url: "http://127.0.0.1:9/v1#x"}}"# + models).contains { $0.contains("fragment") })
        #expect(problems("providers: {p: {kind: openai, api_key: $OPENAI_KEY}}" + models).contains { $0.contains("written ${OPENAI_KEY}") })
        #expect(problems("providers: {p: {kind: openai, api_key: $OPENAI_KEY-suffix}}" + models).contains { $0.contains("written ${OPENAI_KEY}") })
        #expect(problems(#"providers: {p: {kind: openai, base_url: "http://127.0.0.1:9/v1 "}}"# + models).contains { $0.contains("contains a space") })
        #expect(problems("providers: {p: {kind: openai, api_key: \"${EMPTY}\"}}" + models).contains { $0.contains("'EMPTY' is set but empty") })
        #expect(problems("providers: {p: {kind: openai, api_key: ${OPENAI_KEY}}}" + models).contains { $0.contains("must be quoted") })
        #expect(problems(#"providers: {p: {kind: openai, base_url: "https://x.openai.azure.com/openai/deployments/d/?api-version=2024-06-01", api_key: "$1-is-literal"}}"# + models).isEmpty)
        // Settings that can never work or that nothing reads.
        #expect(problems(#"providers: {p: {kind: openai}}"# + "\nmodels: {m: {provider: p, model: \"\"}}").contains { $0.contains("models.m.model: must not be empty") })
        #expect(problems(#"providers: {p: {kind: openai, provider_name: ""}}"# + models).contains { $0.contains("providers.p.provider_name: must not be empty") })
        #expect(problems(#"providers: {p: {kind: openai, simulator: {latency: 5ms}}}"# + models).contains { $0.contains("apply to kind: simulator only") })
        #expect(problems(#"providers: {p: {kind: simulator, base_url: "http://127.0.0.1:9/v1", simulator: {latency: 5ms}}}"# + models).contains { $0.contains("embedded simulator only") })
        #expect(problems(#"providers: {p: {kind: simulator, simulator: {latency: 5ms}}}"# + models).isEmpty)
    }

    @Test func nonLoopbackListenRequiresMasterKey() {
        let yaml = """
        listen: 0.0.0.0:8080
        providers: {s: {kind: simulator}}
        models: {m: {provider: s}}
        """
        #expect(throws: ConfigurationError.self) { try loader.load(yaml: yaml) }
        let withKey = yaml + "\nserver: {master_key: 0123456789abcdef0123}"
        #expect((try? loader.load(yaml: withKey))?.server.masterKey == "0123456789abcdef0123")
    }

    @Test func durationsAndDefaults() throws {
        let configuration = try loader.load(yaml: """
        upstream: {connect_timeout: 250ms, first_byte_timeout: 2s, request_timeout: 1m, max_retries: 0}
        server: {max_body_bytes: 1024, shutdown_timeout: 5s}
        providers: {s: {kind: simulator, simulator: {latency: 0ms, error_rate: 0.5}}}
        models: {m: {provider: s}}
        """)
        #expect(configuration.upstream.connectTimeout == .milliseconds(250))
        #expect(configuration.upstream.firstByteTimeout == .seconds(2))
        #expect(configuration.upstream.requestTimeout == .seconds(60))
        #expect(configuration.upstream.maxRetries == 0)
        #expect(configuration.server.maxBodyBytes == 1024)
        #expect(configuration.providers["s"]?.baseURL == nil)
        #expect(configuration.providers["s"]?.simulator.errorRate == 0.5)
    }

    @Test(arguments: [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
        ("https://x.openai.azure.com/openai/deployments/d/?api-version=1", "https://x.openai.azure.com/openai/deployments/d?api-version=1"),
        ("http://127.0.0.1:8000?api-version=1", "http://127.0.0.1:8000/v1?api-version=1"),
    ])
    func baseURLsMayNameTheRootOrTheVersionedRoot(given: String, used: String) throws {
        let configuration = try loader.load(yaml: """
        providers:
          p: {kind: anthropic, base_url: "\(given)"}
        models:
          m: {provider: p}
        """)
        #expect(configuration.providers["p"]?.baseURL == used)
    }

    @Test func flushTimeoutIsADuration() throws {
        let base = "providers: {p: {kind: simulator}}\nmodels: {m: {provider: p}}\n"
        #expect(try loader.load(yaml: base + "telemetry: {flush_timeout: 250ms}").telemetry.flushTimeout == .milliseconds(250))
        #expect(try loader.load(yaml: base).telemetry.flushTimeout == .milliseconds(1500))
    }

    @Test func headersThatCannotBeSentAreRefusedWithoutEchoingTheKey() {
        // A key read from a file with its newline is the usual way this happens.
        let loader = ConfigurationLoader(environment: ["KEY_WITH_NEWLINE": "sk-secret-value\n"])
        do {
            _ = try loader.load(yaml: """
            providers:
              a:
                kind: openai
                api_key: ${KEY_WITH_NEWLINE}
                headers:
                  "bad name": x
                  x-team: "one\\rtwo"
                  x-fine: "a\\tb"
            models:
              m: {provider: a}
            """, file: "gw.yaml")
            Issue.record("expected a configuration error")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.count == 3, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("gw.yaml:4:14: error: providers.a.api_key:") && $0.contains("cannot carry") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:6:7: error: providers.a.headers.bad name:") && $0.contains("not a valid HTTP header name") })
            #expect(lines.contains { $0.hasPrefix("gw.yaml:7:15: error: providers.a.headers.x-team:") && $0.contains("cannot carry") })
            #expect(!lines.joined().contains("sk-secret"))
        }
    }

    @Test func invalidYAMLIsLocated() {
        do {
            _ = try loader.load(yaml: "listen: [unclosed\n", file: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.problems.first?.description.hasPrefix("bad.yaml:") == true)
        }
    }

    @Test func aKeyTwiceInOneMappingIsNamedAtItsMapping() throws {
        let yaml = """
        providers:
          p: {kind: simulator}
          p: {kind: simulator}
        models:
          m: {provider: p}
        """
        let problems = try #require(throws: ConfigurationError.self) { try ConfigurationLoader(environment: [:]).load(yaml: yaml) }.problems
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("'p' twice") == true)
        #expect(problems.first?.line == 2)
    }

    @Test func captureContentNamesEveryValueItTakes() throws {
        let yaml = """
        providers:
          p: {kind: simulator}
        models:
          m: {provider: p}
        telemetry: {capture_content: sometimes}
        """
        let problems = try #require(throws: ConfigurationError.self) { try ConfigurationLoader(environment: [:]).load(yaml: yaml) }.problems
        #expect(problems.map(\.message) == ["expected true, false or redacted, got 'sometimes'"])
        for value in ["true", "false", "redacted", "yes"] {
            #expect(throws: Never.self) { try ConfigurationLoader(environment: [:]).load(yaml: yaml.replacingOccurrences(of: "sometimes", with: value)) }
        }
    }

    /// A key no client can send (an HTTP field value has no surrounding whitespace, no newline) would lock
    /// every client out; refused at its line, without echoing it.
    @Test(arguments: ["abcdefghijklmnop\n", "abcdefghijklmnop ", " abcdefghijklmnop", "abcdefghijklmnop\t", String(repeating: " ", count: 16)])
    func aMasterKeyNoClientCouldSendIsRefused(key: String) throws {
        let yaml = """
        server:
          master_key: ${KEY}
          idle_timeout: 30s
          read_timeout: 0.5s
        providers:
          p: {kind: simulator}
        models:
          m: {provider: p}
        """
        let problems = try #require(throws: ConfigurationError.self) { try ConfigurationLoader(environment: ["KEY": key]).load(yaml: yaml) }.problems
        #expect(problems.count == 2)
        #expect(problems.contains { $0.message.contains("whitespace") && $0.line == 2 })
        #expect(problems.contains { $0.message == "must be between 1s and 1h" })
        #expect(!problems.contains { $0.message.contains("abcdefghijklmnop") })
        let good = try ConfigurationLoader(environment: ["KEY": "abcdefghijklmnop"]).load(yaml: yaml.replacingOccurrences(of: "0.5s", with: "5s"))
        #expect(good.server.masterKey == "abcdefghijklmnop" && good.server.idleTimeout == .seconds(30) && good.server.readTimeout == .seconds(5))
    }
}
