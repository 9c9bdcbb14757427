import Foundation
import Models
import Tensor

/// One sampler step's noise predictions for model inputs (the whole latent, regions' crops) with their contexts:
/// classifier-free guided where a scale is given (each context then holds [negative × rows, positive × rows]), else
/// the contexts' own. Inputs of one shape whose contexts have one shape (the automatic layout's two areas) go through
/// the U-Net as one batch; the U-Net computes the latents it shares between a context's halves once up to the first
/// cross-attention (`UNet2DConditionModel.predict`).
struct GuidedPrediction {
    let unet: UNet2DConditionModel
    /// The CFG scale; nil: unguided.
    let scale: Float?
    /// U-Net calls too small to keep two cores busy one operation at a time: base channels × latent pixels at most
    /// 64 × 32² (the default model at 128 px, 2.5 GFLOP per CFG call; SD 1.5 at 256 px is 320 × 32²). Their pieces
    /// (CFG halves, the image and its areas) run at once, a core each (`Parallel.concurrently`): `bench model`,
    /// default model, 2 cores, alternated runs: 1.12–1.26 s against 1.42–1.58 s per image, 2.15–2.39 s against
    /// 3.05–3.34 s with two areas. Only with two workers, as measured: with one the calls would run in turn (and the
    /// split halves redo the layers they share); with more, untried, each operation keeps every worker.
    let concurrent: Bool

    /// PHOSPHOR_CONCURRENT_CALLS=0 turns concurrent calls off for the process (A/B runs); `Pipeline.withConcurrentCalls`
    /// chooses for one thread, whatever the worker count (tests take both paths on any machine).
    static let concurrentCalls = getenv("PHOSPHOR_CONCURRENT_CALLS").map { String(cString: $0) != "0" } ?? true
    static let concurrentOverride = ThreadOverride<Bool>()

    init(unet: UNet2DConditionModel, scale: Float?, latentWidth: Int, latentHeight: Int) {
        self.unet = unet
        self.scale = scale
        concurrent = (Self.concurrentOverride.value ?? (Self.concurrentCalls && Parallel.threadCount == 2))
            && unet.baseChannels * latentWidth * latentHeight <= 64 * 32 * 32
    }

    func callAsFunction(_ inputs: [Tensor], _ t: Double, _ contexts: [Tensor]) -> [Tensor] {
        var groups: [[Int]] = []
        for i in inputs.indices {
            if let g = groups.firstIndex(where: { inputs[$0[0]].shape == inputs[i].shape && contexts[$0[0]].shape == contexts[i].shape }) {
                groups[g].append(i)
            } else {
                groups.append([i])
            }
        }
        let joined = { (parts: [Tensor]) in parts.count == 1 ? parts[0] : Tensor.concat(parts, dim: 0) }
        // Per group: the joined input and its context rows — [negatives of every input, positives of every input], the
        // order the U-Net pairs with its repeated input. A small call alone splits into a call per half (two tasks);
        // with areas each group stays one call, which computes the layers before the first cross-attention once for
        // both halves (two tasks: 2.15–2.39 s, four: 2.47–2.70 s per image).
        var calls: [(group: Int, input: Tensor, context: Tensor)] = []
        for (g, group) in groups.enumerated() {
            let input = joined(group.map { inputs[$0] })
            guard scale != nil else {
                calls.append((g, input, joined(group.map { contexts[$0] })))
                continue
            }
            let halves = group.map { contexts[$0].chunk(2, dim: 0) }
            let negatives = joined(halves.map { $0[0] }), positives = joined(halves.map { $0[1] })
            if concurrent && groups.count == 1 {
                calls += [(g, input, negatives.contiguous()), (g, input, positives.contiguous())]
            } else {
                calls.append((g, input, Tensor.concat([negatives, positives], dim: 0)))
            }
        }
        let tasks = calls.map { call in {
            unet.predict(call.input, timesteps: Array(repeating: Float(t), count: call.input.shape[0]), context: call.context)
        } }
        let results = concurrent ? Parallel.concurrently(tasks) : tasks.map { $0() }
        var out: [Tensor] = Array(repeating: Tensor.zeros([1]), count: inputs.count)
        for (g, group) in groups.enumerated() {
            var prediction = joined(calls.indices.filter { calls[$0].group == g }.map { results[$0] })
            if let scale {
                let parts = prediction.chunk(2, dim: 0)
                // noise_pred_uncond + guidance_scale · (noise_pred_text − noise_pred_uncond)
                prediction = Tensor.zip(parts[0], parts[1]) { u, c in u + scale * (c - u) }
            }
            var row = 0
            for i in group {
                let rows = inputs[i].shape[0]
                out[i] = group.count == 1 ? prediction : prediction.narrowed(0, start: row, length: rows)
                row += rows
            }
        }
        return out
    }
}
