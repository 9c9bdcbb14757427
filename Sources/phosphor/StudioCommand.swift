import ArgumentParser
import Foundation
import ImageIO
import Pipeline
import Studio
import StudioCurses
import TerminalGraphics
import Tensor

/// `phosphor` with no arguments: the studio.
struct StudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio", abstract: "The terminal studio (the default when phosphor runs with no arguments).")

    @Option(help: "A diffusers model folder or a single-file .safetensors checkpoint (default: the embedded model).") var model: String?
    @Option(name: [.short, .customLong("output")], help: "Folder for the images (default: outputs).") var output = "outputs"
    @Option(help: "Images as truecolor or 256 half-block cells, or sixel or kitty graphics (default: detected; half-blocks inside tmux).")
    var graphics: String?
    @Option(name: .customLong("model-dir"), help: "A folder of models (diffusers folders, .safetensors files) to choose from in Parameters → Model; may be repeated. Also $PHOSPHOR_MODELS (':'-separated) and ~/.local/share/phosphor/models.")
    var modelDirs: [String] = []
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let graphics, ColorDepth(rawValue: graphics) == nil && GraphicsMode(rawValue: graphics) == nil {
            throw ValidationError("--graphics must be truecolor, 256, halfblocks, sixel or kitty, got \(graphics)")
        }
    }

    /// Prompt history: $PHOSPHOR_HISTORY, else $XDG_DATA_HOME/phosphor/history, else ~/.local/share/phosphor/history;
    /// one JSON string per line, the last 1000 kept.
    static var historyFile: String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["PHOSPHOR_HISTORY"], !path.isEmpty { return path }
        let data = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        return data + "/phosphor/history"
    }

    static func readHistory(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let entries = text.split(separator: "\n").compactMap { try? JSONDecoder().decode(String.self, from: Data($0.utf8)) }
        return Array(entries.suffix(1000))
    }

    /// History is a convenience: a failure to write it never interrupts the studio.
    static func appendHistory(_ prompt: String, to path: String) {
        guard let line = try? JSONEncoder().encode(prompt) else { return }
        try? appendLine(line, to: path)
    }

    /// The folder's PNGs, newest first (at most 200), with their stored requests and 16×16 thumbnails.
    static func gallery(_ folder: String) -> [GalleryItem] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.lowercased().hasSuffix(".png") && !$0.hasSuffix(".mask.png") }
        let dated = names.map { name -> (String, Date) in
            let path = folder + "/" + name
            return (path, ((try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast)
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 > $1.0 }
        return dated.prefix(200).compactMap { path, _ in
            guard let png = try? PNG.read(path: path) else { return nil }
            let image = Canvas(png.rgb8())
            let size = image.fittedSize(maxWidth: 16, maxHeight: 16)
            let texts = (try? PNG.readText(path: path)) ?? []
            let request = texts.first { $0.keyword == "phosphor" }.flatMap { try? JSONDecoder().decode(GenerationRequest.self, from: Data($0.text.utf8)) }
            let prompt = request?.prompt ?? texts.first { $0.keyword == "parameters" }?.text.split(separator: "\n").first.map(String.init)
                ?? (path as NSString).lastPathComponent
            let score = texts.first { $0.keyword == "clip_score" }.flatMap { Float($0.text) }
            return GalleryItem(path: path, prompt: prompt, request: request, thumbnail: image.resized(width: size.width, height: size.height),
                               image: image, clipScore: score)
        }
    }

    /// Moves an image into the folder's .trash (never overwriting); returns a message when that fails.
    static func trash(_ path: String, folder: String) -> String? {
        let fm = FileManager.default
        let bin = folder + "/.trash"
        do {
            try fm.createDirectory(atPath: bin, withIntermediateDirectories: true)
            var target = bin + "/" + (path as NSString).lastPathComponent
            var n = 1
            while fm.fileExists(atPath: target) { target = bin + "/\(n)-" + (path as NSString).lastPathComponent; n += 1 }
            try fm.moveItem(atPath: path, toPath: target)
            return nil
        } catch {
            return "\(path): cannot move to \(bin): \(error.localizedDescription)"
        }
    }

    /// The models offered in the studio: the embedded default model, the one given with --model, and every diffusers
    /// folder (model_index.json) and .safetensors file directly inside the models folders.
    func availableModels() -> [String] {
        let env = ProcessInfo.processInfo.environment
        let data = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        let folders = modelDirs + (env["PHOSPHOR_MODELS"]?.split(separator: ":").map(String.init) ?? []) + [data + "/phosphor/models"]
        var found = [Assets.defaultModel] + (model.map { [$0] } ?? [])
        let fm = FileManager.default
        for folder in folders {
            guard let names = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = folder + "/" + name
                if name.hasSuffix(".safetensors") || fm.fileExists(atPath: path + "/model_index.json") { found.append(path) }
            }
        }
        var seen = Set<String>()
        return found.filter { seen.insert(URL(fileURLWithPath: $0).standardizedFileURL.path).inserted }
    }

    static func modelName(_ path: String) -> String {
        path == Assets.defaultModel ? "phosphor-default" : URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    func run() throws {
        threadOptions.apply()
        guard isatty(0) != 0 && isatty(1) != 0 else {
            throw ValidationError("the studio needs a terminal; for scripts use phosphor generate/batch (see phosphor --help)")
        }
        var keymap = try Keymap(parsing: try String(contentsOfFile: Assets.folder + "/keymap", encoding: .utf8), source: Assets.folder + "/keymap")
        let userKeymap = ProcessInfo.processInfo.environment["PHOSPHOR_KEYMAP"]
            ?? (NSHomeDirectory() + "/.config/phosphor/keymap")
        if let text = try? String(contentsOfFile: userKeymap, encoding: .utf8) { try keymap.merge(text, source: userKeymap) }

        var options = try GenerationOptions.parse(["--quiet", "-o", output] + (model.map { ["--model", $0] } ?? []))
        options.overwrite = false
        var base = try options.request()
        base.seed = 0
        let (pipeline, modelName) = try options.load(&base)
        var initial = StudioModel(request: base, keymap: keymap, modelName: modelName,
                                  seed: UInt64(Date().timeIntervalSince1970 * 1000))
        initial.models = availableModels()
        // --bf16 / PHOSPHOR_BF16 set the starting choice; from then on each request carries its own (Precision).
        initial.bf16Available = BF16Compute.available
        initial.request.bf16 = BF16Compute.enabled
        BF16Compute.enabled = false
        initial.modelPath = base.model
        // The model in use; another one chosen in Parameters is loaded (once per process: Pipeline.cached) on a thread.
        let current = CurrentModel(pipeline: pipeline, path: base.model, name: modelName)
        let historyFile = Self.historyFile
        initial.history = Self.readHistory(historyFile)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let make: ImageMaker = { request, progress in
            var request = request
            let (pipeline, modelPath, modelName) = current.get()
            request.model = modelPath
            try attachGuidanceCLIP(pipeline, for: request, override: nil)
            let image: Tensor
            do {
                image = try pipeline.generate(request, progress: { step, steps, _, denoised in
                    progress(step, steps, pipeline.previewImage(denoised).flatMap { try? Canvas(RGBImage.from($0)) })
                })
            } catch PipelineError.cancelled {
                throw GenerationCancelled()
            }
            let path = try options.outputPath(seed: request.seed)
            return (path, Canvas(try writeGeneratedImage(image, request: request, modelName: modelName, path: path, overwrite: false)))
        }
        let folder = output
        let mode = graphics.flatMap(GraphicsMode.init(rawValue:)) ?? (graphics.flatMap(ColorDepth.init(rawValue:)) != nil ? .halfblocks : nil)
        StudioApp().run(initial, depth: graphics.flatMap(ColorDepth.init(rawValue:)), graphics: mode, make: make,
                        loadGallery: { Self.gallery(folder) }, trash: { Self.trash($0, folder: folder) },
                        remember: { Self.appendHistory($0, to: historyFile) },
                        saveMask: { path, mask in
                            do {
                                let rgb = mask.pixels.flatMap { [$0.r, $0.g, $0.b] }
                                try PNG.write(try RGBImage(width: mask.width, height: mask.height, channels: 3, pixels: rgb), to: path, overwrite: true)
                                return nil
                            } catch { return "\(error)" }
                        },
                        loadMask: { path, width, height in
                            guard FileManager.default.fileExists(atPath: path) else { return nil }
                            let rgb = try PNG.read(path: path).rgb8().resized(width: width, height: height)
                            return Canvas(width: width, height: height, rgb: rgb.pixels)
                        },
                        searchGallery: { query in
                            let scorer = try CLIPScorer.cached(folder: Assets.defaultModel, mergesFile: Assets.clipMerges)
                            var index = GalleryIndex(folder: folder)
                            try index.update(with: scorer)
                            return index.ranked(by: try scorer.textEmbedding(query).toArray(), regions: true).map { folder + "/" + $0.file }
                        },
                        loadModel: { path in
                            let pipeline = try Pipeline.cached(model: path, mergesFile: Assets.clipMerges)
                            let name = Self.modelName(path)
                            current.set(pipeline, path: path, name: name)
                            return (name, pipeline.defaults)
                        }) { prompt in
            current.get().pipeline.conditioner.tokenCount(prompt)
        }
    }
}

extension Canvas {
    /// An 8-bit RGB image as a canvas.
    init(_ rgb: RGBImage) { self.init(width: rgb.width, height: rgb.height, rgb: rgb.pixels) }
}

/// The studio's model, swapped by a loader thread while generation threads read it.
final class CurrentModel: @unchecked Sendable {
    private let lock = NSLock()
    private var pipeline: Pipeline, path: String, name: String
    init(pipeline: Pipeline, path: String, name: String) { (self.pipeline, self.path, self.name) = (pipeline, path, name) }
    func get() -> (pipeline: Pipeline, path: String, name: String) { lock.lock(); defer { lock.unlock() }; return (pipeline, path, name) }
    func set(_ pipeline: Pipeline, path: String, name: String) {
        lock.lock()
        (self.pipeline, self.path, self.name) = (pipeline, path, name)
        lock.unlock()
    }
}
