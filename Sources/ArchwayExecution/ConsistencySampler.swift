public import ArchwayConfig
public import ArchwayCore
public import ArchwayRouting
public import ArchwayTelemetry
import Synchronization
public import Tracing

/// Decides which of a route's answers are consistency-sampled and queues them for the shadow workers,
/// off the client's path: the client's answer is never delayed nor changed. The queue is bounded; a
/// sample that finds it full is dropped and counted (`archway.shadow.samples{outcome="dropped"}`).
public final class ConsistencySampler: Sendable {
    /// A sampling decision for one call, made before it runs (a stream must know to assemble its answer).
    public struct Draw: Sendable {
        public var route: String
        public var settings: RouteConfiguration.Consistency
        /// Whether the answer itself is compared with the reference's.
        public var compareAnswer: Bool
        /// Left-out candidates asked afresh, so they can recover.
        public var recheck: [String]
    }

    public let samples: AsyncStream<ConsistencySample>
    private let continuation: AsyncStream<ConsistencySample>.Continuation
    private let settings: [String: RouteConfiguration.Consistency]
    private let scores: ConsistencyScores
    private let telemetry: GenAITelemetry
    private let random: Mutex<SplitMix64>

    public init(
        routes: [RouteConfiguration],
        scores: ConsistencyScores,
        shadow: ShadowSettings = ShadowSettings(),
        telemetry: GenAITelemetry,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max)
    ) {
        var settings: [String: RouteConfiguration.Consistency] = [:]
        for route in routes {
            if let consistency = route.consistency { settings[route.name] = consistency }
        }
        self.settings = settings
        self.scores = scores
        self.telemetry = telemetry
        self.random = Mutex(SplitMix64(seed: seed))
        (samples, continuation) = AsyncStream.makeStream(of: ConsistencySample.self, bufferingPolicy: .bufferingOldest(shadow.queueSize))
    }

    /// Whether any route samples at all.
    public var isActive: Bool { !settings.isEmpty }

    /// Draws whether a call of `route` is sampled; nil when it is not (or the name is no sampling route).
    func draw(route: String) -> Draw? {
        guard let settings = settings[route] else { return nil }
        let left = scores.ineligible(in: route)
        return random.withLock { random in
            let compare = random.nextUnit() < settings.sampleRate
            let recheck = left.filter { _ in random.nextUnit() < settings.recoveryRate }
            guard compare || !recheck.isEmpty else { return nil }
            return Draw(route: route, settings: settings, compareAnswer: compare, recheck: recheck)
        }
    }

    /// Queues a sampled call's answer. A relayed answer is queued as it is: its content is decoded by
    /// the shadow worker, off the client's path.
    func offer(_ draw: Draw, request: ChatRequest, answer: Relayable<ChatResponse>, model: String, context: ServiceContext) {
        var shadowRequest = request
        shadowRequest.stream = false
        shadowRequest.includeUsage = false
        shadowRequest.choiceCount = nil
        let sample = ConsistencySample(
            route: draw.route,
            settings: draw.settings,
            request: shadowRequest,
            answered: answer,
            answeredModel: model,
            answeredContext: context,
            compareAnswer: draw.compareAnswer && model != draw.settings.reference,
            recheck: draw.recheck.filter { $0 != model }
        )
        guard sample.compareAnswer || !sample.recheck.isEmpty else { return }
        if case .dropped = continuation.yield(sample) {
            telemetry.counter(GenAIMetricSet.shadowSamples, unit: "{sample}", [
                (GenAIAttributes.archwayRouteName, draw.route),
                ("outcome", "dropped"),
            ]).increment()
        }
    }
}

/// Where a sampled stream's assembled answer goes once the stream ended well.
struct SampleHandoff: Sendable {
    let sampler: ConsistencySampler
    let draw: ConsistencySampler.Draw
    let request: ChatRequest
    let model: String
    let context: ServiceContext

    func deliver(_ answer: ChatResponse) {
        sampler.offer(draw, request: request, answer: Relayable(answer), model: model, context: context)
    }
}

/// One sampled call waiting for its shadow calls.
public struct ConsistencySample: Sendable {
    public struct Answer: Sendable {
        public var model: String
        public var text: String
        public var responseID: String?
        /// The GenAI span of the call that gave it: evaluations are parented to it.
        public var context: ServiceContext
    }

    public var route: String
    public var settings: RouteConfiguration.Consistency
    /// The request as the client sent it, not streamed.
    public var request: ChatRequest
    /// The sampled call's answer, the configured model that gave it, and its GenAI span's context.
    public var answered: Relayable<ChatResponse>
    public var answeredModel: String
    public var answeredContext: ServiceContext
    /// Compare `answered` with the reference's answer (false when the reference itself answered).
    public var compareAnswer: Bool
    /// Left-out candidates to ask the same request, each then compared with the reference's answer.
    public var recheck: [String]
}
