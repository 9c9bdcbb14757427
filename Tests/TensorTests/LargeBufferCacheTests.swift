import Testing
import Tensor

/// The reuse of freed tensor buffers (a cache of its own here; tensors use `LargeBufferCache.shared`).
@Suite struct LargeBufferCacheTests {
    let mib = 1 << 20

    @Test func reusesNearSizesWithinTheLimit() {
        let cache = LargeBufferCache(limitBytes: 40 * mib)
        let a = TensorStorage.allocate(bytes: 8 * mib)
        cache.give(a, bytes: 8 * mib)
        #expect(cache.heldBytes == 8 * mib)
        #expect(cache.take(bytes: 1 * mib) == nil, "small buffers are never served")
        #expect(cache.take(bytes: 4 * mib) == nil, "8 MiB is too big for 4 MiB (at most a quarter + 2 MiB more)")
        let reused = cache.take(bytes: 7 * mib)
        #expect(reused?.0 == a && reused?.1 == 8 * mib)
        #expect(cache.heldBytes == 0)
        #expect(cache.take(bytes: 7 * mib) == nil, "a buffer is handed out once")

        // Over the limit: the least recently freed go first; a buffer bigger than the limit is freed at once.
        let sizes = [16, 12, 10, 9].map { $0 * mib }
        let buffers = sizes.map { TensorStorage.allocate(bytes: $0) }
        for (p, size) in zip(buffers, sizes) { cache.give(p, bytes: size) }
        #expect(cache.heldBytes == 31 * mib, "the 16 MiB buffer was evicted for the 9 MiB one")
        #expect(cache.take(bytes: 15 * mib) == nil)
        #expect(cache.take(bytes: 12 * mib)?.0 == buffers[1])
        cache.give(TensorStorage.allocate(bytes: 41 * mib), bytes: 41 * mib)
        #expect(cache.heldBytes == 19 * mib)
        cache.releaseAll()
        #expect(cache.heldBytes == 0)
        cache.give(reused!.0, bytes: reused!.1)
        cache.releaseAll()
    }

    @Test func tensorsReadBackWhatTheyWrote() {
        // Reused memory is not zeroed unless asked: zeroed storage must be zero, data must survive.
        for _ in 0..<3 {
            let t = TensorStorage(count: 3 * mib, zeroed: true)
            #expect(t.pointer[0] == 0 && t.pointer[3 * mib - 1] == 0)
            t.pointer[0] = 1
            t.pointer[3 * mib - 1] = 2
            #expect(t.pointer[0] == 1 && t.pointer[3 * mib - 1] == 2)
        }
    }
}
