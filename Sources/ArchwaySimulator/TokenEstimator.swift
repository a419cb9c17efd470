import ArchwayCore

/// A tokenizer stand-in: about four characters per token, as the providers' rules of thumb say.
/// Only consistency matters: the same text always counts the same on every wire.
enum TokenEstimator {
    static func estimate(_ text: String) -> Int {
        (text.count + 3) / 4
    }

    /// Input tokens of a conversation: each message costs at least one token, as real chat
    /// templates add a few per message.
    static func estimate(_ messages: [ChatMessage]) -> Int {
        var total = 0
        for message in messages {
            var characters = message.text.count
            for part in message.content {
                if case .imageURL = part { characters += 340 }  // ~85 tokens, a low-detail image
            }
            for call in message.toolCalls {
                characters += call.name.count + call.arguments.count
            }
            total += max(1, (characters + 3) / 4)
        }
        return total
    }
}
