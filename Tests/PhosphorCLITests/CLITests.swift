import Foundation
import Testing

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
    }

    @Test func benchOpsRejectsZeroRepeats() throws {
        let r = try CLI.run(["bench", "ops", "--repeats", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--repeats must be at least 1"))
    }
}
