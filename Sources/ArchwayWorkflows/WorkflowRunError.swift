public import ArchwayCore
import HTTPTypes

/// Why a step (or a run) failed, for its status, its span and the client's error.
public struct WorkflowRunError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case missingValue(String)
        case invalidJSON
        case notAList(String)
        case call(GatewayError)
        case timedOut
        case deadline
        case stopped
    }

    private let code: Code

    private init(_ code: Code) { self.code = code }

    /// A template referenced a name with no value.
    public static func missingValue(_ name: String) -> Self { Self(.missingValue(name)) }
    /// A `json` step's answer did not parse.
    public static var invalidJSON: Self { Self(.invalidJSON) }
    /// A `map` referenced a value that is not a list.
    public static func notAList(_ name: String) -> Self { Self(.notAList(name)) }
    /// The model call failed.
    public static func call(_ error: GatewayError) -> Self { Self(.call(error)) }
    /// The step's own `timeout_ms` ran out.
    public static var timedOut: Self { Self(.timedOut) }
    /// The run's deadline ran out while the step ran.
    public static var deadline: Self { Self(.deadline) }
    /// Another step failed the run, which stopped this one.
    public static var stopped: Self { Self(.stopped) }

    /// The caller went away, or the gateway's shutdown cut the run: the call error it ended with
    /// (`client_closed`, 499; `shutting_down`, 503), or nil.
    public var clientClosed: GatewayError? {
        if case .call(let error) = code, error.isClientClosed || error.isShuttingDown { return error }
        return nil
    }

    /// The gateway's policy refused the step's prompt: the client's input is at fault, and nothing left.
    var policyRefusal: GatewayError? {
        if case .call(let error) = code, error.code == "policy_violation" { return error }
        return nil
    }

    /// What a span's status may say: without a provider's words, which may quote the request.
    public var spanDescription: String {
        if case .call(let error) = code { return error.messageWithoutExcerpt }
        return description
    }

    /// Low-cardinality class for `error.type`.
    public var shortDescription: String {
        switch code {
        case .missingValue: "missing_value"
        case .invalidJSON: "invalid_json"
        case .notAList: "not_a_list"
        case .call(let error): error.shortDescription
        case .timedOut: "timeout"
        case .deadline: "deadline_exceeded"
        case .stopped: "cancelled"
        }
    }

    public var description: String {
        switch code {
        case .missingValue(let name): "the template references '\(name)', which has no value"
        case .invalidJSON: "the answer is not valid JSON"
        case .notAList(let name): "map needs a list, but '\(name)' is not one"
        case .call(let error): error.message
        case .timedOut: "the step's timeout_ms ran out"
        case .deadline: "the workflow's deadline ran out"
        case .stopped: "stopped because another step failed the run"
        }
    }

    /// Whether another attempt could fix it (a call failure another attempt could, or an unreadable answer).
    var isRetryable: Bool {
        switch code {
        case .invalidJSON: true
        case .call(let error): error.isRetryable || error.allowsFallback
        default: false
        }
    }

    var isDeadline: Bool { code == .deadline }

    /// The name of the client's input a template or a `map` could not use (`inputs.customer.name` when
    /// `customer` was sent as a string): the client's to fix, not the models'.
    var unusableInput: String? {
        switch code {
        case .missingValue(let name), .notAList(let name):
            name == "inputs" || name.hasPrefix("inputs.") ? name : nil
        default: nil
        }
    }

    /// The failed call's status, for a step that failed on its call (a client error from the provider
    /// stays a 4xx, a provider failure a 5xx).
    var callStatus: HTTPResponse.Status? {
        if case .call(let error) = code, error.status.code >= 400 { return error.status.code >= 500 || error.status.code == 429 ? error.status : .badGateway }
        if code == .timedOut { return .gatewayTimeout }
        return nil
    }
}
