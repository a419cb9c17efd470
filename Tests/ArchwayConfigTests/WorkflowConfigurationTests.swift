import ArchwayConfig
import ArchwayCore
import Testing

@Suite struct WorkflowConfigurationTests {
    let loader = ConfigurationLoader(environment: [:])

    static let base = """
    providers:
      p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
    models:
      fast: {provider: p, quality: 0.8}
      frontier: {provider: p, quality: 0.95}
    routes:
      smart: {strategy: fallback, candidates: [fast, frontier]}

    """

    @Test func dependenciesComeFromTemplatesAndNeeds() throws {
        let configuration = try loader.load(yaml: Self.base + """
        workflows:
          email:
            inputs: [customer, product]
            deadline_ms: 8000
            steps:
              preferences: {model: fast, prompt: "Prefs of {{inputs.customer}}", output: json}
              facts: {model: smart, prompt: "Facts about {{inputs.product}}"}
              draft:
                model: frontier
                system: "Write for {{steps.preferences.output.tone}} readers."
                prompt: "Use {{steps.facts.output}}{{#steps.preferences.output.likes}} {{.}}{{/steps.preferences.output.likes}}"
              audit: {model: fast, prompt: "Audit", needs: [draft]}
              subjects: {map: "{{steps.preferences.output.segments}}", model: fast, prompt: "Subject for {{item}}", max_parallel: 6, on_error: {default: []}}
            output: {email: "{{steps.draft.output}}", subjects: "{{steps.subjects.output}}", version: 2}
        """)
        let workflow = try #require(configuration.workflows.first)
        #expect(workflow.inputs == ["customer", "product"] && workflow.deadline == .milliseconds(8000))
        #expect(workflow.steps.map(\.name) == ["preferences", "facts", "draft", "audit", "subjects"])
        #expect(workflow.step(named: "preferences")?.dependencies == [])
        #expect(Set(workflow.step(named: "draft")?.dependencies ?? []) == ["preferences", "facts"])
        #expect(workflow.step(named: "audit")?.dependencies == ["draft"])
        #expect(workflow.step(named: "subjects")?.dependencies == ["preferences"])
        #expect(workflow.step(named: "subjects")?.maxParallel == 6)
        #expect(workflow.step(named: "subjects")?.onError == .useDefault(.array([])))
        #expect(workflow.step(named: "preferences")?.output == .json)
        #expect(workflow.modelName == "workflow/email")
    }

    @Test(arguments: [
        ("{model: fast, prompt: \"{{steps.b.output}}\"}", "{model: fast, prompt: \"{{steps.a.output}}\"}", "cycle: a → b → a"),
        ("{model: fast, prompt: \"{{steps.zzz.output}}\"}", "{model: fast, prompt: hi}", "unknown step 'zzz'"),
        ("{model: fast, prompt: \"{{inputs.nope}}\"}", "{model: fast, prompt: hi}", "names no input"),
        ("{model: gpt-9, prompt: hi}", "{model: fast, prompt: hi}", "unknown model or route 'gpt-9'"),
        ("{model: fast, prompt: \"{{#inputs.topic}}open\"}", "{model: fast, prompt: hi}", "does not parse: a section ({{#name}} or {{^name}}) is not closed with {{/name}}, at line 1, column 22"),
        ("{model: fast, prompt: hi}", "{map: \"{{steps.a.output}}\", model: fast, prompt: \"{{item}}\"}", "map needs a list"),
        ("{model: fast, prompt: hi}", "{map: \"items: {{steps.a.output}}\", model: fast, prompt: x}", "map must be one reference"),
        ("{model: fast, prompt: \"{{item}}\"}", "{model: fast, prompt: hi}", "is not a known name"),
        ("{model: fast, prompt: hi, on_error: retry}", "{model: fast, prompt: hi}", "unknown on_error 'retry'"),
        ("{model: fast, prompt: \"{{steps.a.output}}\"}", "{model: fast, prompt: hi}", "cannot reference its own output"),
        ("{model: fast, prompt: hi, needs: [ghost]}", "{model: fast, prompt: hi}", "unknown step 'ghost'"),
        // A step named inside a section is waited for: an unknown one would hang every run to its deadline.
        ("{model: fast, prompt: hi}", "{model: fast, prompt: \"{{#steps.a.output}}B {{steps.typo.output}}{{/steps.a.output}}\"}", "(inside a section) names an unknown step 'typo'"),
        // Partials and delimiter changes would hide references (and render as nothing).
        ("{model: fast, prompt: \"{{=<% %>=}}<% steps.b.output %>\"}", "{model: fast, prompt: hi}", "partials and delimiter changes are not supported"),
        ("{model: fast, prompt: \"{{> other}}\"}", "{model: fast, prompt: hi}", "partials and delimiter changes are not supported"),
    ])
    func problemsAreReportedAtTheirLines(a: String, b: String, message: String) {
        let yaml = Self.base + """
        workflows:
          w:
            inputs: [topic]
            steps:
              a: \(a)
              b: \(b)
            output: "{{steps.b.output}}"
        """
        #expect {
            try loader.load(yaml: yaml)
        } throws: { error in
            let problems = (error as? ConfigurationError)?.problems ?? []
            return problems.contains { $0.message.contains(message) && $0.keyPath.hasPrefix("workflows.w") && $0.line >= 12 }
        }
    }

    /// The map's check runs over the steps that read well, whatever is wrong with the others.
    @Test func aMapOverTextIsReportedBesideOtherProblems() {
        let yaml = Self.base + """
        workflows:
          w:
            steps:
              a: {model: fast, prompt: hi}
              e: {map: "{{steps.a.output}}", model: fast, prompt: "{{item}}"}
              l: {model: nosuch, prompt: x}
            output: "{{steps.e.output}}"
        """
        #expect {
            try loader.load(yaml: yaml)
        } throws: { error in
            let messages = (error as? ConfigurationError)?.problems.map(\.message) ?? []
            return messages.contains { $0.contains("map needs a list") } && messages.contains { $0.contains("unknown model or route 'nosuch'") }
        }
    }

    @Test(arguments: ["team/summary", "two words", "é", "..", "."])
    func aWorkflowNameMustFitInItsURL(_ name: String) {
        #expect {
            try loader.load(yaml: Self.base + """
            workflows:
              "\(name)": {steps: {a: {model: fast, prompt: hi}}, output: "{{steps.a.output}}"}
            """)
        } throws: { error in
            let problem = (error as? ConfigurationError)?.problems.first
            return problem?.keyPath == "workflows.\(name)" && problem?.line == 9 && problem?.message.contains("/v1/workflows/NAME/runs") == true
        }
    }

    @Test func templatesKnowTheirReferences() throws {
        let template = try WorkflowTemplate("Hi {{inputs.name}}, {{#steps.a.output.list}}{{name}}{{/steps.a.output.list}} {{{steps.b.output}}}{{! note }}")
        #expect(template.references == [["inputs", "name"], ["steps", "a", "output", "list"], ["steps", "b", "output"]])
        #expect(template.referencedSteps == ["a", "b"])
        #expect(template.soleReference == nil)
        #expect(try WorkflowTemplate(" {{steps.a.output.items}} ").soleReference == ["steps", "a", "output", "items"])
        #expect(throws: (any Error).self) { try WorkflowTemplate("{{#open}} never closed") }
    }

    /// `check` lists every problem at once, and one problem is not reported again as others.
    @Test func everyProblemOnceWithoutCascades() throws {
        let loader = ConfigurationLoader(environment: [:])
        let yaml = """
        providers:
          p: {kind: openai, api_key: "${NOT_SET_ANYWHERE}"}
        models:
          m1: {provider: p}
        workflows:
          w:
            inputs: [input]
            steps:
              a: {model: m1, prompt: "{{steps.b.output}}"}
              b: {model: m1, prompt: "{{steps.c.output}}"}
              c: {model: m1, prompt: "{{steps.a.output}}"}
              d: {model: m1, prompt: "{{steps.d.output}}"}
            output: "{{steps.a.output}}"
        """
        let problems = try #require(throws: ConfigurationError.self) { try loader.load(yaml: yaml) }.problems
        let messages = problems.map(\.message)
        #expect(messages.contains { $0.contains("NOT_SET_ANYWHERE") })
        // m1's provider has the error; its callers are not told m1 is unknown.
        #expect(!messages.contains { $0.contains("unknown model") }, "\(messages)")
        // The cycle among the steps that read well, beside the self-reference.
        #expect(messages.contains { $0.contains("cycle: a → b → c → a") })
        #expect(messages.contains { $0.contains("cannot reference its own output") })
    }
}
