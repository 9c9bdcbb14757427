import Foundation
import Testing
import Tensor
import TestSupport

/// Runs the real `phosphor` binary built next to the test bundle.
struct CLI {
    static let binary: String = {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("phosphor").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("phosphor").path
    }()

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite struct CLITests {
    @Test func infoPrintsVersionBLASAndThreads() throws {
        let r = try CLI.run(["info", "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("phosphor 0."))
        #expect(r.stdout.contains("blas: OpenBLAS"))
        #expect(r.stdout.contains("threads: 2 workers, 2 BLAS"))
    }

    /// OpenBLAS's workers are told to sleep between calls (they spun on sched_yield, taking the cores from Phosphor's
    /// own workers), unless the user set OPENBLAS_THREAD_TIMEOUT; products stay right after the restart (other tests
    /// generate images).
    @Test func idleBLASThreadsSleepUnlessTheUserChose() throws {
        let ours = try CLI.run(["info"])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout.contains("idle BLAS threads: sleep at once (OPENBLAS_THREAD_TIMEOUT=4)")
                || ours.stdout.contains("no pthread OpenBLAS symbols"), "\(ours.stdout)")
        let theirs = try CLI.run(["info"], environment: ["OPENBLAS_THREAD_TIMEOUT": "12"])
        #expect(theirs.stdout.contains("idle BLAS threads: OPENBLAS_THREAD_TIMEOUT=12 (yours)"), "\(theirs.stdout)")
    }

    /// The fp16-weight kernel is the widest this CPU runs unless PHOSPHOR_HALF_GEMM names another it runs.
    @Test func halfWeightKernelChoice() throws {
        let chosen = try CLI.run(["info"])
        #expect(chosen.stdout.contains("fp16 weights in fp32 products: \(HalfWeightKernel.available[0].rawValue) (of "), "\(chosen.stdout)")
        let named = try CLI.run(["info"], environment: ["PHOSPHOR_HALF_GEMM": "blas"])
        #expect(named.stdout.contains("fp16 weights in fp32 products: blas (of "), "\(named.stdout)")
    }

    /// Winograd's products follow the fp16-weight kernel (its register tiles) unless PHOSPHOR_WINOGRAD_GEMM names
    /// another this CPU runs; an unknown name is ignored.
    @Test func winogradProductsChoice() throws {
        let chosen = try CLI.run(["info"], environment: ["PHOSPHOR_HALF_GEMM": "blas"])
        #expect(chosen.stdout.contains("Winograd products: blas (of "), "\(chosen.stdout)")
        let named = try CLI.run(["info"], environment: ["PHOSPHOR_WINOGRAD_GEMM": "blas"])
        #expect(named.stdout.contains("Winograd products: blas (of "), "\(named.stdout)")
        let unknown = try CLI.run(["info"], environment: ["PHOSPHOR_WINOGRAD_GEMM": "fast"])
        #expect(unknown.stdout.contains("Winograd products: \(HalfWeightKernel.available[0].rawValue) (of "), "\(unknown.stdout)")
    }

    @Test func userChosenBLASCoreIsRespected() throws {
        let r = try CLI.run(["info"], environment: ["OPENBLAS_CORETYPE": "Haswell"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("core: Haswell"))
    }

    @Test func badArgumentsFailWithOneClearLine() throws {
        let r = try CLI.run(["info", "--threads", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--threads must be at least 1"))
        let unknown = try CLI.run(["frobnicate"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("frobnicate"))
    }

    /// `bench model` on the default model: every stage timed, per-step time consistent with the total.
    @Test func benchModelReportsStages() throws {
        let r = try CLI.run(["bench", "model", "--steps", "3", "--repeats", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["width"] as? Int == 128 && object["steps"] as? Int == 3)
        let total = try #require(object["txt2img_seconds"] as? Double), step = try #require(object["seconds_per_step"] as? Double)
        #expect(step > 0 && step * 3 <= total && (object["peak_rss_bytes"] as? Int ?? 0) > 0)
        // The stages are the pipeline's own timings and add up to the total.
        let stages = ["text_encode_seconds", "setup_seconds", "sampling_seconds", "decode_seconds"].compactMap { object[$0] as? Double }
        #expect(stages.count == 4 && abs(stages.reduce(0, +) - total) < 1e-6)
    }

    /// `score`: a scene scores higher against its own caption than against another; a missing image is one line.
    /// `search`: a folder's images ranked by a text or by an image, through an index file that is made once and then
    /// only updated for new, changed and vanished images.
    @Test func searchRanksByTextAndImageWithAnIncrementalIndex() throws {
        let dir = Fixtures.temporaryFolder()
        let prompts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/clip_prompts.json"))))
        for i in 0..<2 {
            try FileManager.default.copyItem(atPath: Fixtures.path("default_model/clip_scene\(i).png"), toPath: dir + "/scene\(i).png")
        }
        try FileManager.default.copyItem(atPath: Fixtures.path("default_model/inpaint_image.png"), toPath: dir + "/other.png")
        func search(_ args: [String]) throws -> (files: [String], stderr: String) {
            let r = try CLI.run(["search"] + args + ["--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let files = try r.stdout.split(separator: "\n").map {
                ((try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]))["image"] as? String ?? "")
            }
            return (files.map { ($0 as NSString).lastPathComponent }, r.stderr)
        }
        let first = try search([prompts[0], dir])
        #expect(first.files.first == "scene1.png" && first.files.count == 3 && first.stderr.contains("indexed 3"))
        let again = try search([prompts[0], dir, "--top", "1"])
        #expect(again.files == ["scene1.png"] && again.stderr.isEmpty)    // nothing re-embedded
        // Each line holds the whole-image embedding and the 22 region embeddings; a line written before regions
        // existed (no "regions") is re-embedded.
        let lines = try String(contentsOfFile: dir + "/.phosphor-clip-index.jsonl", encoding: .utf8).split(separator: "\n")
        let entries = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(entries.allSatisfy { ($0["regions"] as? [[Double]])?.count == 22 && ($0["regions"] as? [[Double]])?.first?.count == 384 })
        var old = entries[0]
        old["regions"] = nil
        let rewritten = [String(decoding: try JSONSerialization.data(withJSONObject: old), as: UTF8.self)] + lines.dropFirst().map(String.init)
        try (rewritten.joined(separator: "\n") + "\n").write(toFile: dir + "/.phosphor-clip-index.jsonl", atomically: true, encoding: .utf8)
        let upgraded = try search([prompts[0], dir, "--top", "1"])
        #expect(upgraded.files == ["scene1.png"] && upgraded.stderr.contains("indexed 1"), "\(upgraded.stderr)")
        try FileManager.default.removeItem(atPath: dir + "/other.png")
        let like = try search(["--like", dir + "/scene1.png", dir])
        #expect(like.files == ["scene0.png"])                              // itself excluded, the deleted one gone
        let index = try String(contentsOfFile: dir + "/.phosphor-clip-index.jsonl", encoding: .utf8)
        #expect(index.split(separator: "\n").count == 2)
        let bad = try CLI.run(["search", "x", "/nonexistent/folder"])
        #expect(bad.status != 0 && bad.stderr.contains("/nonexistent/folder"))
    }

    @Test func scoreRanksTheRightCaptionFirst() throws {
        let image = Fixtures.path("default_model/clip_scene1.png")
        let prompts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("default_model/clip_prompts.json"))))
        func score(_ prompt: String) throws -> Double {
            let r = try CLI.run(["score", image, "--prompt", prompt, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require(object["clip_score"] as? Double)
        }
        #expect(try score(prompts[0]) > score(prompts[2]) + 20)
        let noCLIP = try CLI.run(["score", image, "--prompt", "x", "--clip-model", "/nonexistent/clip"])
        #expect(noCLIP.status == 1 && noCLIP.stderr.contains("/nonexistent/clip: unsupported model: no such CLIP model folder")
                && noCLIP.stderr.split(separator: "\n").count == 1, "\(noCLIP.stderr)")
        let notCLIP = try CLI.run(["score", image, "--prompt", "x", "--clip-model", Fixtures.path("models/vae_kl")])
        #expect(notCLIP.status == 1 && notCLIP.stderr.contains("not a CLIP model"), "\(notCLIP.stderr)")
        let missing = try CLI.run(["score", "/nonexistent.png", "--prompt", "x"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent.png") && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
    }

    @Test func benchOpsRejectsZeroRepeats() throws {
        let r = try CLI.run(["bench", "ops", "--repeats", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--repeats must be at least 1"))
    }
}
