import Foundation
import Synchronization

/// A task executor with a thread of its own that runs the jobs queued since its last pass about once a
/// millisecond, instead of being woken for each one.
///
/// Every other task of `archway serve` runs on NIO's event loops (see `ServeCommand`). Telemetry export
/// runs here: the span and event exporters' batches (encoded here, so an event loop never waits for
/// one) and swift-otel's metric exports and their internal tasks, which on an ordinary executor would
/// wake a sleeping thread for every job (a futex call and a context switch). Here enqueueing is an append
/// under an uncontended lock; the cost is that a job starts up to a millisecond later (20 ms when idle),
/// which exports a quarter of a second apart never notice.
final class BatchingTaskExecutor: TaskExecutor {
    private let queue = Mutex<[UnownedJob]>([])
    private let interval: UInt32
    private let idleInterval: UInt32

    /// - Parameters:
    ///   - intervalMicroseconds: how long the thread sleeps when it found nothing to run.
    ///   - idleIntervalMicroseconds: how long it sleeps once it has found nothing for 50 passes in a row,
    ///     so an idle gateway does not wake a thousand times a second.
    init(name: String, intervalMicroseconds: UInt32 = 1_000, idleIntervalMicroseconds: UInt32 = 20_000) {
        self.interval = intervalMicroseconds
        self.idleInterval = idleIntervalMicroseconds
        let thread = Thread { [self] in self.runLoop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.append(job) }
    }

    private func runLoop() -> Never {
        var batch: [UnownedJob] = []
        var emptyPasses = 0
        while true {
            queue.withLock { swap(&$0, &batch) }
            if batch.isEmpty {
                emptyPasses += 1
                usleep(emptyPasses > 50 ? idleInterval : interval)
                continue
            }
            emptyPasses = 0
            for job in batch {
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
