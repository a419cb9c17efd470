import ArchwayWire

// The shared encoder already has the right shape; the simulator streams through it so its
// Anthropic events are exactly the gateway's.
extension AnthropicStreamEncoder: SimulatedStreamEncoder {}
