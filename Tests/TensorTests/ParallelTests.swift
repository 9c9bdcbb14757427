import Foundation
import Testing
import Tensor

/// `Parallel.concurrently`: tasks run at once (two of them meet inside a barrier only two concurrent tasks can pass),
/// each with one worker for its operations and the caller's thread overrides; their results equal a sequential run's.
@Suite struct ParallelTests {
    @Test func tasksRunAtOnceWithOneWorkerAndTheCallersOverrides() {
        guard Parallel.threadCount > 1 else { return }  // one core: the tasks run in turn (checked below)
        let arrived = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let seen = Seen()
        let task = { (i: Int) in
            {
                seen.record(i, workers: Parallel.threadCount, winograd: Tensor.winogradChoice(batch: 2, channels: 64, outputs: 64, size: 32))
                arrived.signal()
                // Both tasks must have arrived before either leaves: with tasks run in turn this times out.
                if i == 0 {
                    seen.metBoth = arrived.wait(timeout: .now() + 20) == .success && arrived.wait(timeout: .now() + 20) == .success
                    release.signal()
                } else {
                    _ = release.wait(timeout: .now() + 20)
                }
            }
        }
        let outside = Tensor.winogradChoice(batch: 2, channels: 64, outputs: 64, size: 32)
        _ = Tensor.withWinograd(false) { Parallel.concurrently([task(0), task(1)]) }
        #expect(outside != "im2col")
        #expect(seen.metBoth)
        #expect(seen.workers == [0: 1, 1: 1])
        #expect(seen.winograd == [0: "im2col", 1: "im2col"], "the caller's withWinograd(false) reaches the tasks")
        #expect(Parallel.threadCount > 1 && BLAS.threadCount > 0)
    }

    @Test func resultsEqualSequentialOnes() {
        let x = Tensor.randomUniform([2, 32, 16, 16], seed: 1), w = Tensor.randomUniform([32, 32, 3, 3], seed: 2)
        let tokens = Tensor.randomUniform([64, 96], seed: 3), lw = Tensor.randomUniform([80, 96], seed: 4)
        let work: [() -> Tensor] = [
            { x.conv2d(weight: w, bias: nil, options: Conv2dOptions(stride: 1, padding: 1)).silu() },
            { tokens.linear(weight: lw).softmax(dim: -1) },
        ]
        let sequential = work.map { $0() }
        let concurrent = Parallel.concurrently(work)
        for i in work.indices {
            #expect(concurrent[i].shape == sequential[i].shape)
            // One worker instead of several: the same sums per element, to rounding.
            #expect(concurrent[i].maxAbsDifference(sequential[i]) <= 1e-5 * max(1, sequential[i].toArray().map(abs).max()!))
        }
    }
}

private final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var workers: [Int: Int] = [:], winograd: [Int: String] = [:]
    var metBoth = false
    func record(_ i: Int, workers n: Int, winograd w: String) {
        lock.lock(); workers[i] = n; winograd[i] = w; lock.unlock()
    }
}
