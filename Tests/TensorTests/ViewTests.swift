import Testing
import Tensor

@Suite struct ViewTests {
    let t = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])

    @Test func permuteAndContiguous() {
        let p = t.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3] && !p.isContiguous)
        #expect(p[1, 1, 2] == t[1, 2, 1])
        let c = p.contiguous()
        #expect(c.isContiguous && c.toArray()[0..<6] == [0, 4, 8, 12, 16, 20])
    }

    @Test func narrowSelectStrided() {
        let n = t.narrowed(2, start: 1, length: 2)
        #expect(n.toArray() == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        #expect(t.selected(1, 2).toArray() == [8, 9, 10, 11, 20, 21, 22, 23])
        #expect(t.strided(2, step: 3).toArray() == [0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23])
    }

    @Test func reshapeCopiesOnlyWhenNeeded() {
        let r = t.reshaped([6, -1])
        #expect(r.shape == [6, 4] && r.storage === t.storage)
        let tr = t.transposed(0, 2).reshaped([-1])
        #expect(tr.storage !== t.storage)
        #expect(tr.toArray()[0..<4] == [0, 12, 4, 16])
    }

    @Test func expandAndAssign() {
        let row = Tensor([1, 2, 3, 4], shape: [4])
        let e = row.expanded(to: [3, 4])
        #expect(e.strides == [0, 1] && e.toArray() == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4])
        let target = Tensor.zeros([2, 3, 4])
        target.selected(0, 1).assign(row)
        #expect(target[1, 2, 3] == 4 && target[0, 2, 3] == 0)
    }

    @Test func betterBLASCoreTypeOnlyForGenericFallbacks() {
        let avx512: Set = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        #expect(BLAS.betterCoreType(current: "Prescott", cpuFlags: avx512) == "SkylakeX")
        #expect(BLAS.betterCoreType(current: "Prescott", cpuFlags: ["avx", "avx2", "fma"]) == "Haswell")
        #expect(BLAS.betterCoreType(current: "Zen", cpuFlags: ["avx2", "fma"]) == nil)
        #expect(BLAS.betterCoreType(current: "SkylakeX", cpuFlags: avx512) == nil)
        #expect(BLAS.betterCoreType(current: "Prescott", cpuFlags: ["sse3"]) == nil)
    }
}
