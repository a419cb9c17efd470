public import ArchwayCore

/// The OpenAI error document: `{"error":{"message","type","param","code"}}`.
/// With `anthropicEnvelope` it also carries Anthropic's top-level `"type":"error"`, so both SDKs read it.
public struct OpenAIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            // OpenAI always sends both keys, null when absent.
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }
    }

    public var type: String?
    public var error: Detail

    public init(_ error: GatewayError, anthropicEnvelope: Bool = false) {
        self.type = anthropicEnvelope ? "error" : nil
        self.error = Detail(message: error.message, type: error.type, param: error.param, code: error.code)
    }
}
