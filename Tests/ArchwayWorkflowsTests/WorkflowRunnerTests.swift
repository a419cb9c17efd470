import ArchwayConfig
import ArchwayCore
import ArchwayExecution
import ArchwayTelemetry
import ArchwayTestSupport
@testable import ArchwayWorkflows
import Foundation
import InMemoryTracing
import Testing
import Tracing

@Suite struct WorkflowRunnerTests {
    static let fanOut = """
      w:
        inputs: [topic]
        deadline_ms: 5000
        steps:
          plan: {model: m, prompt: "plan {{inputs.topic}}", output: json}
          facts: {model: m, prompt: "facts {{inputs.topic}}"}
          items: {map: "{{steps.plan.output.items}}", model: m, prompt: "item {{item}} of {{steps.plan.output.title}}", max_parallel: 2}
          final: {model: m, prompt: "final {{steps.facts.output}} {{steps.items.output}}"}
        output: {final: "{{steps.final.output}}", items: "{{steps.items.output}}", title: "{{steps.plan.output.title}}"}
    """

    @Test func stepsRunAsSoonAsWhatTheyReferenceIsDoneAndMapsKeepOrder() async throws {
        let concurrency = Concurrency()
        let itemConcurrency = Concurrency()
        let upstream = ScriptedUpstream { received, _ in
            let prompt = WorkflowHarness.prompt(received)
            let tracker = prompt.hasPrefix("item") ? itemConcurrency : concurrency
            tracker.enter()
            defer { tracker.leave() }
            // plan and facts wait (up to 2 s) for each other, so their overlap does not depend on how
            // quickly a loaded machine delivers the second request: run one after the other, they never meet.
            if !prompt.hasPrefix("item") && !prompt.hasPrefix("final") {
                let deadline = ContinuousClock.now + .seconds(2)
                while tracker.current < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await Task.sleep(for: .milliseconds(60))
            if prompt.hasPrefix("plan") { return WorkflowHarness.completion(#"{"title": "T", "items": ["a", "b", "c", "d", "e"]}"#) }
            return WorkflowHarness.completion("<" + prompt + ">")
        }
        try await upstream.run { baseURL in
            let harness = try WorkflowHarness(baseURL: baseURL, workflows: Self.fanOut)
            let result = try await harness.run(["topic": .string("ovens")])
            #expect(result.failure == nil)
            let items: JSONValue = .array(["a", "b", "c", "d", "e"].map { .string("<item \($0) of T>") })
            #expect(result.output == .object([
                "final": .string("<final <facts ovens> [\"<item a of T>\",\"<item b of T>\",\"<item c of T>\",\"<item d of T>\",\"<item e of T>\"]>"),
                "items": items,
                "title": .string("T"),
            ]))
            #expect(result.steps["items"]?.attempts == 5 && result.steps["items"]?.status == .succeeded)
            // plan and facts together, and at most max_parallel (2) items at once. (Counted apart: facts may
            // still be running when plan's items start, which is right.)
            #expect(concurrency.peak == 2)
            #expect(itemConcurrency.peak == 2)
            let prompts = upstream.received.map(WorkflowHarness.prompt)
            #expect(prompts.prefix(2).sorted() == ["facts ovens", "plan ovens"])
            #expect(prompts.last?.hasPrefix("final") == true)
            #expect(result.steps.values.allSatisfy { $0.costUSD > 0 && $0.usage != nil })

            // The trace: run → step → GenAI call.
            let spans = harness.tracer.finishedSpans
            let run = try #require(spans.first { $0.operationName == "invoke_workflow w" })
            #expect(run.kind == .internal)
            #expect(run.attributes[GenAIAttributes.operationName]?.toSpanAttribute() == .string("invoke_workflow"))
            #expect(run.attributes[GenAIAttributes.workflowName]?.toSpanAttribute() == .string("w"))
            let steps = spans.filter { $0.operationName.hasPrefix("workflow_step ") }
            #expect(steps.count == 4 && steps.allSatisfy { $0.parentSpanID == run.spanID && $0.kind == .internal })
            let itemsStep = try #require(steps.first { $0.operationName == "workflow_step items" })
            #expect(itemsStep.attributes[GenAIAttributes.archwayWorkflowStepAttempts]?.toSpanAttribute() == .int64(5))
            #expect(itemsStep.attributes[GenAIAttributes.archwayWorkflowStepStatus]?.toSpanAttribute() == .string("succeeded"))
            let calls = spans.filter { $0.operationName == "chat m-up" }
            #expect(calls.count == 8)
            #expect(calls.filter { $0.parentSpanID == itemsStep.spanID }.count == 5)
            #expect(harness.metrics.recorders.contains { $0.label == GenAIMetricSet.workflowDuration })
        }
    }

    @Test func onErrorSkipAndDefaultLetTheRunGoOnAndFailFailsIt() async throws {
        let upstream = WorkflowHarness.upstream()
        try await upstream.run { baseURL in
            let lenient = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  a: {model: m, prompt: "broken a", on_error: skip}
                  b: {model: m, prompt: "notjson b", output: json, retries: 1, on_error: {default: {"fallback": true}}}
                  c: {model: m, prompt: "c {{steps.a.output}}|{{steps.b.output.fallback}}"}
                output: "{{steps.c.output}}"
            """)
            let result = try await lenient.run()
            #expect(result.failure == nil)
            #expect(result.steps["a"]?.status == .skipped && result.steps["a"]?.output == .null)
            #expect(result.steps["b"]?.status == .defaulted && result.steps["b"]?.attempts == 2, "an answer that is not JSON is retried")
            #expect(result.output == .string("ok c |true"))

            let strict = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  a: {model: m, prompt: "broken a"}
                  b: {model: m, prompt: "b {{steps.a.output}}"}
                output: "{{steps.b.output}}"
            """)
            let failed = try await strict.run()
            #expect(failed.failure?.step == "a")
            #expect(failed.steps["a"]?.status == .failed && failed.steps["b"] == nil)
            let error = try #require(failed.clientError)
            #expect(error.status == .serviceUnavailable && error.code == "workflow_step_failed" && error.message.contains("'a'"))
            let run = try #require(strict.tracer.finishedSpans.first { $0.operationName == "invoke_workflow w" })
            #expect(run.status?.code == .error)
        }
    }

    /// An input of the wrong shape is the client's to fix (400); a model's answer of the wrong shape is not (502).
    @Test func anInputOfTheWrongShapeIsTheClientsMistake() async throws {
        let upstream = WorkflowHarness.upstream()
        try await upstream.run { baseURL in
            let mapping = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                inputs: [items, customer]
                steps:
                  each: {map: "{{inputs.items}}", model: m, prompt: "x {{item}}"}
                  greet: {model: m, prompt: "hello {{inputs.customer.name}}"}
                output: "{{steps.each.output}}"
            """)
            for inputs: [String: JSONValue] in [["items": .string("not a list"), "customer": .object(["name": .string("Ada")])], ["items": .array([]), "customer": .string("Ada")]] {
                let result = try await mapping.run(inputs)
                let error = try #require(result.clientError)
                #expect(error.status == .badRequest && error.code == "invalid_input" && error.type == "invalid_request_error", "\(error)")
                #expect(error.param == "inputs.items" || error.param == "inputs.customer.name")
            }

            let answered = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  a: {model: m, prompt: "a"}
                  b: {model: m, prompt: "b {{steps.a.output.field}}"}
                output: "{{steps.b.output}}"
            """)
            let error = try #require(try await answered.run().clientError)
            #expect(error.status == .badGateway && error.code == "workflow_step_failed")
        }
    }

    @Test func theDeadlineCutsOffRunningStepsAndKeepsFinishedResults() async throws {
        let upstream = WorkflowHarness.upstream(reply: "done ")
        try await upstream.run { baseURL in
            let harness = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                deadline_ms: 1500
                steps:
                  quick: {model: m, prompt: "quick"}
                  slow: {model: m, prompt: "slow {{steps.quick.output}}"}
                  after: {model: m, prompt: "after {{steps.slow.output}}"}
                output: "{{steps.after.output}}"
            """)
            let started = ContinuousClock.now
            let result = try await harness.run()
            // The deadline leaves the quick step time even on a loaded machine (300 ms did not, on a cold CI
            // run where every suite starts at once); the slow step would take 6 s.
            #expect(started.duration(to: .now) < .seconds(5), "the slow call was cancelled, not waited for")
            #expect(result.failure?.step == "slow")
            #expect(result.clientError?.status == .gatewayTimeout && result.clientError?.code == "workflow_deadline_exceeded")
            #expect(result.steps["quick"]?.status == .succeeded && result.steps["quick"]?.output == .string("done quick"))
            #expect(result.steps["slow"]?.status == .cancelled)
            #expect(result.steps["after"] == nil)
            // The slow step's model call ran into the run's deadline (its own timer, or the run's cut):
            // its span says so, never that a client left.
            let failed = harness.tracer.finishedSpans.filter { $0.operationName == "chat m-up" }.compactMap { $0.attributes["error.type"]?.toSpanAttribute() }
            #expect(failed.count == 1 && [.string("timeout"), .string("deadline_exceeded")].contains(failed[0]), "\(failed)")
        }
    }

    /// A step stopped because another failed the run says so: `cancelled`, not that the client left.
    @Test func aStepStoppedByTheRunIsCancelledNotClientClosed() async throws {
        let upstream = WorkflowHarness.upstream(slow: .seconds(3))
        try await upstream.run { baseURL in
            let harness = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  a: {model: m, prompt: "broken a"}
                  b: {model: m, prompt: "slow b"}
                output: "{{steps.b.output}}"
            """)
            let result = try await harness.run()
            #expect(result.failure?.step == "a")
            #expect(result.steps["b"]?.status == .cancelled)
            #expect(result.steps["b"]?.error?.shortDescription == "cancelled")
            let span = try #require(harness.tracer.finishedSpans.first { $0.operationName == "workflow_step b" })
            #expect(span.attributes["error.type"]?.toSpanAttribute() == .string("cancelled"))
            #expect(span.attributes["archway.workflow.step.status"]?.toSpanAttribute() == .string("cancelled"))
            // Its model call says so too: the run stopped it, no client left.
            let call = try #require(harness.tracer.finishedSpans.first { $0.operationName == "chat m-up" && $0.attributes["error.type"]?.toSpanAttribute() != .string("503") })
            #expect(call.attributes["error.type"]?.toSpanAttribute() == .string("cancelled"))
        }
    }

    /// A caller that goes away cancels the run: it ends as client_closed (499), not as what its cancelled
    /// steps left the rest to make of it (a missing value, 502) nor as a success.
    @Test func aCallerThatLeavesEndsTheRunAsClientClosed() async throws {
        let upstream = WorkflowHarness.upstream(reply: "done ")
        try await upstream.run { baseURL in
            let harness = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  slow: {model: m, prompt: "slow", on_error: skip}
                  after: {model: m, prompt: "after {{steps.slow.output.x}}"}
                output: "{{steps.after.output}}"
            """)
            let run = Task { try await harness.run() }
            try await Task.sleep(for: .milliseconds(300))
            run.cancel()
            let result = try await run.value
            #expect(result.failure?.error.shortDescription == "client_closed")
            #expect(result.clientError?.status.code == 499)
        }
    }

    /// A run the gateway's shutdown cut is `shutting_down` (503, the client told to retry elsewhere), not
    /// a client that left (499, which no client should read).
    @Test func aRunCutByTheShutdownIsShuttingDownNotClientClosed() async throws {
        struct Shutdown: CancellationCause { var cancellationError: GatewayError { .shuttingDown } }
        let upstream = WorkflowHarness.upstream(reply: "done ")
        try await upstream.run { baseURL in
            let harness = try WorkflowHarness(baseURL: baseURL, workflows: """
              w:
                steps:
                  slow: {model: m, prompt: "slow"}
                output: "{{steps.slow.output}}"
            """)
            let run = Task { try await harness.run(cancellation: Shutdown()) }
            try await Task.sleep(for: .milliseconds(300))
            run.cancel()
            let result = try await run.value
            #expect(result.failure?.error.shortDescription == "shutting_down")
            #expect(result.clientError?.status == .serviceUnavailable && result.clientError?.code == "shutting_down")
            #expect(result.steps["slow"]?.error?.shortDescription == "shutting_down")
        }
    }

    /// A step the policy refused is the client's input at fault (400 `policy_violation`, as on the chat
    /// route), not a provider's failure (502).
    @Test func aStepThePolicyRefusedIsTheClientsError() {
        let refusal = GatewayError(status: .badRequest, type: "invalid_request_error", code: "policy_violation", message: "refused: prompt injection", shortDescription: "policy_violation")
        let result = WorkflowResult(workflow: "w", output: nil, steps: [:], order: [], traceID: nil, failure: ("j", .call(refusal)), duration: .zero)
        #expect(result.clientError?.status == .badRequest)
        #expect(result.clientError?.code == "policy_violation" && result.clientError?.type == "invalid_request_error")
        #expect(result.clientError?.message.contains("'j'") == true)
    }

    @Test func aMissingValueIsAnErrorNeverAnEmptyString() throws {
        let values = WorkflowContext(inputs: ["name": .string("Ada"), "n": .number(3), "doc": .object(["a": .array([.number(1), .bool(true)])])])
        #expect(try values.render(WorkflowTemplate("{{inputs.name}} has {{inputs.n}}: {{inputs.doc}} <&>")) == #"Ada has 3: {"a":[1,true]} <&>"#)
        #expect(throws: WorkflowRunError.missingValue("inputs.nope")) { try values.render(WorkflowTemplate("{{inputs.nope}}")) }
        #expect(throws: WorkflowRunError.missingValue("inputs.doc.b")) { try values.render(WorkflowTemplate("{{inputs.doc.b}}")) }
        // A value that is a list stays a list in the output; text around it makes it text.
        #expect(try values.evaluate(.template(WorkflowTemplate("{{inputs.doc.a}}"))) == .array([.number(1), .bool(true)]))
        #expect(try values.evaluate(.template(WorkflowTemplate("n={{inputs.n}}"))) == .string("n=3"))
        #expect(try values.render(WorkflowTemplate("{{#inputs.doc.a}}[{{.}}]{{/inputs.doc.a}}")) == "[1][true]")
    }

    /// A list's items by index, an object inside a list by its keys; an index out of range is missing.
    @Test func listItemsAreReachedByIndex() throws {
        let values = WorkflowContext(inputs: ["obj": .object([
            "l": .array([.string("first"), .string("second")]),
            "m": .array([.number(0), .number(5)]),
            "o": .array([.object(["k": .string("v")])]),
        ])])
        #expect(try values.render(WorkflowTemplate("a0={{inputs.obj.l.0}} a1={{inputs.obj.l.1}} n0={{inputs.obj.m.0}} k={{inputs.obj.o.0.k}} o={{inputs.obj.o.0}}"))
            == #"a0=first a1=second n0=0 k=v o={"k":"v"}"#)
        #expect(throws: WorkflowRunError.missingValue("inputs.obj.l.7")) { try values.render(WorkflowTemplate("{{inputs.obj.l.7}}")) }
        // A large whole number prints as one, alone or inside JSON text alike.
        let big = WorkflowContext(inputs: ["n": .number(36028797018963968), "o": .object(["n": .number(36028797018963968)]), "l": .array([.number(1.2e18)])])
        #expect(try big.render(WorkflowTemplate("{{inputs.n}} {{inputs.o}} {{inputs.l}}")) == #"36028797018963968 {"n":36028797018963968} [1200000000000000000]"#)
        // A 64-bit id from a request's JSON keeps every digit, where a double would round it.
        let ids = try JSONDecoder().decode([String: JSONValue].self, from: Data(#"{"id":1234567890123456789,"o":{"id":-9007199254740993}}"#.utf8))
        #expect(try WorkflowContext(inputs: ids).render(WorkflowTemplate("{{inputs.id}} {{inputs.o}} {{inputs.o.id}}"))
            == #"1234567890123456789 {"id":-9007199254740993} -9007199254740993"#)
    }

    @Test func callsGetWhatIsLeftOfTheBudget() {
        let start = ContinuousClock.now
        let run = start + .seconds(8)
        #expect(WorkflowRunner.callDeadline(run: run, stepStart: start + .seconds(1), timeout: nil) == run)
        #expect(WorkflowRunner.callDeadline(run: run, stepStart: start + .seconds(1), timeout: .seconds(2)) == start + .seconds(3))
        #expect(WorkflowRunner.callDeadline(run: run, stepStart: start + .seconds(7), timeout: .seconds(2)) == run)
    }

    @Test func theScheduleStartsStepsWhenTheirDependenciesAreDone() throws {
        let upstreamless = try WorkflowHarness(baseURL: "http://127.0.0.1:9", workflows: Self.fanOut)
        var schedule = WorkflowSchedule(upstreamless.workflow)
        #expect(schedule.start() == ["plan", "facts"])
        #expect(schedule.finished("facts", failsRun: false) == [])
        #expect(schedule.finished("plan", failsRun: false) == ["items"])
        #expect(schedule.finished("items", failsRun: false) == ["final"])
        #expect(!schedule.isComplete)
        #expect(schedule.finished("final", failsRun: false) == [])
        #expect(schedule.isComplete)
        var failing = WorkflowSchedule(upstreamless.workflow)
        _ = failing.start()
        #expect(failing.finished("plan", failsRun: true) == [])
        #expect(!failing.isComplete, "facts still runs")
        #expect(failing.finished("facts", failsRun: false) == [])
        #expect(failing.isComplete)
    }
}
