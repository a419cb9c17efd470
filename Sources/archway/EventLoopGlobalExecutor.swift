import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes NIO's singleton event loops Swift Concurrency's global executor, each job run as the generic
/// executor's.
///
/// A task then runs on the event loop that woke it, so reading a request, calling the upstream and writing
/// the answer stay on one thread. SwiftNIO offers this
/// (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`), but runs each
/// job isolated to the loop's own serial executor. To the runtime a task running there is not on the
/// generic executor, so every call into a nonisolated `async` function, which runs on the generic executor,
/// was a switch: the task was enqueued on the same loop again and resumed a loop pass later. That was about
/// 70 switches a chat request. Run as the generic executor's, as Swift's own global executor runs them,
/// those calls go straight through, and a task is enqueued only when it resumes from a suspension.
///
/// The hook is the runtime's `swift_task_enqueueGlobal_hook`, the one SwiftNIO's installation sets too;
/// it is set once, before the command starts any task of its own.
enum EventLoopGlobalExecutor {
    /// The runtime's hook: the job, and the enqueue it replaces.
    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// The generic executor's reference: no identity and no implementation, as the runtime spells it.
    private static let generic = unsafeBitCast((0, 0), to: UnownedSerialExecutor.self)

    /// Installs the hook; false (and Swift's own pool stays) where the runtime has none or it is taken.
    @discardableResult
    static func install() -> Bool {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "swift_task_enqueueGlobal_hook") else { return false }
        let slot = symbol.assumingMemoryBound(to: UnsafeRawPointer?.self)
        guard slot.pointee == nil else { return false }
        let hook: EnqueueGlobalHook = { job, _ in
            // The loop this thread runs, if it is one of the group's; otherwise the group's next.
            MultiThreadedEventLoopGroup.singleton.any().execute {
                job.runSynchronously(on: EventLoopGlobalExecutor.generic)
            }
        }
        slot.pointee = unsafeBitCast(hook, to: UnsafeRawPointer.self)
        return true
    }
}
