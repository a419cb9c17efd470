import ArchwayExecution
import ServiceLifecycle

/// Runs the consistency samples the execution layer queued, at most `maxConcurrency` at once, off the
/// clients' path (the queue before it is bounded: a full queue drops samples). At shutdown it stops
/// taking samples and cancels those under way: a sample is worth less than a prompt exit.
struct ShadowSampleService: Service {
    let sampler: ConsistencySampler
    let evaluator: ConsistencyEvaluator
    let maxConcurrency: Int

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await sample in sampler.samples {
                    // At shutdown the stream still hands over what it had queued: dropped, not started as
                    // calls cancelled at once (which would count as failures nobody caused).
                    if Task.isCancelled { break }
                    if running >= maxConcurrency {
                        // Take the next sample only once one under way has ended.
                        _ = await group.next()
                        running -= 1
                        if Task.isCancelled { break }
                    }
                    group.addTask { await evaluator.evaluate(sample) }
                    running += 1
                }
                group.cancelAll()
            }
        }
    }
}
