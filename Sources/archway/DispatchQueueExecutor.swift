import Dispatch

/// A task executor on a serial `DispatchQueue`: a thread of its own, outside NIO's event loops.
///
/// Every other task of `archway serve` runs on the event loops (see `ServeCommand`). Work that is heavy in
/// bursts, such as serialising a second's worth of spans for export, runs here instead, so it never
/// holds up the requests of an event loop.
final class DispatchQueueExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        self.queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
