import Dispatch
import Foundation

/// Time per kind of tensor operation (`phosphor bench sd` prints it as the per-layer-type table): while enabled, every
/// outermost op called on the enabling thread adds its wall time to its kind (ops nested inside another op count
/// towards the outer one, work on Parallel's and BLAS's threads towards the op that waits for it). Off, an op pays
/// one Bool test.
public enum OpProfile {
    nonisolated(unsafe) public private(set) static var enabled = false
    nonisolated(unsafe) private static var owner = pthread_self()
    nonisolated(unsafe) private static var depth = 0
    nonisolated(unsafe) private static var totals: [String: (seconds: Double, calls: Int)] = [:]

    /// One profile at a time in the process: a second thread's `record` waits for the first (tests run side by side).
    private static let session = NSLock()

    /// Runs `body` on the calling thread under a fresh profile and returns seconds and call counts per kind, largest
    /// first.
    public static func record(_ body: () throws -> Void) rethrows -> [(kind: String, seconds: Double, calls: Int)] {
        session.lock()
        defer { session.unlock() }
        owner = pthread_self()
        depth = 0
        totals = [:]
        enabled = true
        defer { enabled = false }
        try body()
        return totals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.seconds > $1.seconds }
    }

    /// Call at an op's start; pass the result to `end`. 0 when not profiling or nested.
    @inline(__always) static func begin() -> UInt64 {
        guard enabled, pthread_equal(pthread_self(), owner) != 0 else { return 0 }
        depth += 1
        return depth == 1 ? DispatchTime.now().uptimeNanoseconds : 0
    }

    @inline(__always) static func end(_ token: UInt64, _ kind: @autoclosure () -> String) {
        guard enabled, pthread_equal(pthread_self(), owner) != 0 else { return }
        depth -= 1
        guard token != 0 else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - token) / 1e9
        let name = kind()
        totals[name, default: (0, 0)].seconds += seconds
        totals[name, default: (0, 0)].calls += 1
    }
}
