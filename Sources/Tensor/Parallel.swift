import Dispatch
import Foundation

/// The worker count used for elementwise and reduction work outside BLAS.
/// Defaults to the number of active cores; `PHOSPHOR_THREADS` overrides it.
public enum Parallel {
    nonisolated(unsafe) private static var configured: Int = {
        if let value = ProcessInfo.processInfo.environment["PHOSPHOR_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Workers for the operations started on this thread: 1 inside `concurrently`'s tasks, else the configured count.
    public static var threadCount: Int {
        get { serial.value == true ? 1 : configured }
        set { configured = max(1, newValue) }
    }

    private static let serial = ThreadOverride<Bool>()

    /// Runs the tasks at the same time, one worker each, every operation inside them on that worker alone (OpenBLAS
    /// single-threaded meanwhile) and with the caller's `ThreadOverride`s; returns their results in order. For
    /// independent pieces of work too small to keep every core busy one operation at a time: a small model's U-Net
    /// calls for CFG's halves, or for an image and its areas (`Pipeline`). With one worker the tasks run in turn.
    public static func concurrently<T>(_ tasks: [() -> T]) -> [T] {
        let workers = min(threadCount, tasks.count)
        guard workers > 1 else { return tasks.map { $0() } }
        let overrides = ThreadOverrides.current()
        let next = TaskCounter(), results = Results<T>(count: tasks.count)
        BLAS.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                overrides.apply {
                    serial.with(true) {
                        while true {
                            let i = next.take()
                            if i >= tasks.count { break }
                            results[i] = tasks[i]()
                        }
                    }
                }
            }
        }
        return results.all
    }

    /// Runs `body(range)` over `0..<count` split into at most `threadCount` contiguous chunks,
    /// each at least `minChunk` long. Runs inline when one chunk suffices.
    public static func forRanges(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(1, minChunk)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        let counting = FLOPCounter.enabled && FLOPCounter.countsHere
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { FLOPCounter.marking(counting) { body(start..<end) } }
            }
        }
    }

    /// Runs `body(i)` for every task index, tasks handed out dynamically to `threadCount` workers.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(threadCount, count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let next = TaskCounter()
        let counting = FLOPCounter.enabled && FLOPCounter.countsHere
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                FLOPCounter.marking(counting) {
                    while true {
                        let i = next.take()
                        if i >= count { break }
                        body(i)
                    }
                }
            }
        }
    }
}

/// A lock-protected counter for dynamic task distribution.
final class TaskCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}

/// Results of tasks that run at once, a slot each.
private final class Results<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    subscript(i: Int) -> T? {
        get { lock.lock(); defer { lock.unlock() }; return slots[i] }
        set { lock.lock(); slots[i] = newValue; lock.unlock() }
    }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return slots.map { $0! } }
}
