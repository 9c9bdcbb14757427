import Foundation
import Pipeline
import Samplers
import TerminalGraphics

/// The studio's whole state. `update` is the only way it changes; `view` draws it. Nothing here touches a terminal.
public struct StudioModel: Equatable {
    public enum Field: String, CaseIterable, Sendable { case prompt, negative, params }
    public enum SeedMode: String, CaseIterable, Sendable { case fixed, increment = "+1", random }
    public enum Param: String, CaseIterable, Sendable {
        case steps, cfg, seed, seedMode, sampler, schedule, size, batch, source, strength, clipGuidance, layout, model, precision
    }

    public enum Status: Equatable {
        case idle(String)
        case generating(step: Int, steps: Int, seconds: Double)
        case done(path: String, seconds: Double)
        case failed(String)
    }

    public static let sizes: [(Int, Int)] = [(128, 128), (256, 256), (512, 512), (512, 768), (768, 512), (768, 768)]

    public var prompt = LineEditor()
    public var negative = LineEditor()
    public var focus: Field = .prompt
    public var selectedParam: Param = .steps
    /// Everything but the prompts is edited here directly; prompts are copied in when a generation starts.
    public var request: GenerationRequest
    public var seedMode: SeedMode = .increment
    var rngState: UInt64
    public var status: Status = .idle("Type a prompt, Enter to generate")
    public var image: Canvas?
    public var imagePath: String?
    public var showHelp = false
    /// The gallery (F2): images in the output folder, newest first.
    public var showGallery = false
    public var gallery: [GalleryItem] = []
    public var gallerySelection = 0
    public var confirmTrash = false
    /// Text that gallery items' prompts must contain (case-insensitive; empty = all), and whether it is being typed.
    public var galleryFilter = LineEditor()
    public var editingFilter = false
    /// Images per generate action (seed mode applies between them) and how many of the current run are still to come.
    public var batchCount = 1
    public var batchRemaining = 0
    /// Models to choose from (paths: the embedded default model, the models folders) and the one in use.
    public var models: [String] = []
    public var modelPath = ""
    public var loadingModel = false
    /// A value being typed for the selected numeric parameter (digits, "."), applied with Enter or on moving on.
    public var typedValue: String?
    /// The gallery's details view of the selected image (large, with its full metadata).
    public var showDetails = false
    /// CLIP search in the gallery: the query being typed, and the query the gallery is ranked by.
    public var searchQuery = LineEditor()
    public var editingSearch = false
    public var galleryRankedBy: String?
    /// The mask painter (opened from the gallery with m), when active.
    public var painter: MaskPainter?
    /// Earlier prompts, oldest first (persisted by the runtime), and the entry Up/Down is showing (nil = the draft).
    public var history: [String] = []
    public var historyIndex: Int?
    var draft = ""
    public var width = 80, height = 24
    public var keymap: Keymap
    public var modelName: String
    /// Tokens used and available in the prompt (filled in by the runtime from the model's tokenizer).
    public var tokenCount: (used: Int, capacity: Int)?
    public var running: Bool { if case .generating = status { return true } else { return false } }
    /// Whether the CPU can compute in bf16 (set by the runtime): Precision toggles only then.
    public var bf16Available = false

    public init(request: GenerationRequest, keymap: Keymap, modelName: String, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        self.request = request
        self.keymap = keymap
        self.modelName = modelName
        rngState = seed
        prompt = LineEditor(request.prompt)
        negative = LineEditor(request.negativePrompt)
    }

    public static func == (a: StudioModel, b: StudioModel) -> Bool {
        a.prompt == b.prompt && a.negative == b.negative && a.focus == b.focus && a.selectedParam == b.selectedParam
            && a.request == b.request && a.seedMode == b.seedMode && a.status == b.status && a.image == b.image
            && a.showHelp == b.showHelp && a.width == b.width && a.height == b.height
            && a.showGallery == b.showGallery && a.gallery == b.gallery && a.gallerySelection == b.gallerySelection
            && a.confirmTrash == b.confirmTrash && a.painter == b.painter && a.history == b.history && a.historyIndex == b.historyIndex
            && a.tokenCount?.used == b.tokenCount?.used && a.tokenCount?.capacity == b.tokenCount?.capacity
            && a.galleryFilter == b.galleryFilter && a.editingFilter == b.editingFilter && a.batchCount == b.batchCount
            && a.batchRemaining == b.batchRemaining && a.models == b.models && a.modelPath == b.modelPath
            && a.loadingModel == b.loadingModel && a.modelName == b.modelName && a.typedValue == b.typedValue
            && a.showDetails == b.showDetails && a.searchQuery == b.searchQuery && a.editingSearch == b.editingSearch
            && a.galleryRankedBy == b.galleryRankedBy
    }

    /// SplitMix64: random seeds without touching global state (update stays pure and repeatable).
    mutating func nextRandomSeed() -> UInt64 {
        rngState &+= 0x9E37_79B9_7F4A_7C15
        var z = rngState
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) & 0xFFFF_FFFF
    }

    /// Parameters whose value can be typed.
    public static let typable: Set<Param> = [.steps, .cfg, .seed, .batch, .strength, .clipGuidance]

    public func value(of param: Param) -> String {
        if param == selectedParam, let typedValue { return typedValue + "_" }
        return switch param {
        case .steps: "\(request.steps)"
        case .cfg: request.cfgScale == request.cfgScale.rounded() ? "\(Int(request.cfgScale))" : "\(request.cfgScale)"
        case .seed: "\(request.seed)"
        case .seedMode: seedMode.rawValue
        case .sampler: SamplerKind(rawValue: request.sampler)?.displayName ?? request.sampler
        case .schedule: request.schedule
        case .size: "\(request.width)×\(request.height)"
        case .batch: "\(batchCount)"
        case .source: request.initImage.map { "img2img: " + (($0 as NSString).lastPathComponent) } ?? "txt2img"
        case .strength: request.initImage == nil ? "– (img2img only)" : String(format: "%.2f", request.strength)
        case .clipGuidance: request.clipGuidanceScale == 0 ? "off" : request.clipGuidanceScale.formatted()
        case .layout: request.layout == "auto" ? "auto (A left of B → regions)" : request.layout
        case .model: modelName
        case .precision: request.bf16 ? "bf16" : "fp32"
        }
    }

    /// The gallery items whose prompt contains the filter (all of them without one), newest first.
    public var visibleGallery: [GalleryItem] {
        let needle = galleryFilter.string.trimmingCharacters(in: .whitespaces).lowercased()
        return needle.isEmpty ? gallery : gallery.filter { $0.prompt.lowercased().contains(needle) || $0.path.lowercased().contains(needle) }
    }

    public var paramLabels: [Param: String] {
        [.steps: "Steps", .cfg: "CFG scale", .seed: "Seed", .seedMode: "Seed mode", .sampler: "Sampler", .schedule: "Schedule", .size: "Size",
         .batch: "Batch count", .source: "Start from", .strength: "Strength", .clipGuidance: "CLIP guidance", .layout: "Layout", .model: "Model",
         .precision: "Precision"]
    }
}

/// One image of the gallery: its file, the request stored in it (nil for PNGs not made by phosphor), a thumbnail.
public struct GalleryItem: Equatable, Sendable {
    public var path: String
    public var prompt: String
    public var request: GenerationRequest?
    public var thumbnail: Canvas
    public var image: Canvas
    /// The CLIP score stored in the PNG (`clip_score` text), when it has one.
    public var clipScore: Float?
    public init(path: String, prompt: String, request: GenerationRequest?, thumbnail: Canvas, image: Canvas, clipScore: Float? = nil) {
        (self.path, self.prompt, self.request, self.thumbnail, self.image, self.clipScore) = (path, prompt, request, thumbnail, image, clipScore)
    }
}

/// What the studio asks its runtime to do.
public enum Effect: Equatable, Sendable {
    case generate(GenerationRequest)
    case cancel
    case quit
    /// Read the output folder's PNGs (answered by `galleryLoaded`).
    case loadGallery
    /// Move this image to the output folder's .trash.
    case trash(String)
    /// Append a prompt to the persisted history.
    case remember(String)
    /// Write a mask PNG (white = repaint).
    case saveMask(path: String, mask: Canvas)
    /// Read a mask PNG if it exists (answered by `maskLoaded`; silence when there is none and `quiet`).
    case loadMask(path: String, quiet: Bool)
    /// Load another model (answered by `modelLoaded` or `failed`).
    case loadModel(String)
    /// Rank the output folder's images by CLIP similarity to a text (answered by `galleryRanked` or `failed`).
    case searchGallery(String)
}

/// A mouse event on a cell.
public struct MouseEvent: Equatable, Sendable {
    public enum Kind: Equatable, Sendable { case press, drag, release }
    public var row: Int, column: Int, kind: Kind
    public init(row: Int, column: Int, kind: Kind) { (self.row, self.column, self.kind) = (row, column, kind) }
}

/// Everything that happens to the studio.
public enum Message: Sendable {
    case key(Key)
    case resize(width: Int, height: Int)
    case progress(step: Int, steps: Int, seconds: Double, preview: Canvas?)
    case finished(path: String, image: Canvas, seconds: Double)
    case failed(String)
    case cancelled
    case tokenCount(used: Int, capacity: Int)
    case galleryLoaded([GalleryItem])
    case mouse(MouseEvent)
    /// Text pasted into the terminal (bracketed paste): inserted as it is, newlines included, never run as keys.
    case paste(String)
    /// A mask read for the painter (white = repaint), at the image's size.
    case maskLoaded(path: String, mask: Canvas)
    /// Another model is in use; its recommended settings (Stable Diffusion's usual ones where it has none).
    case modelLoaded(path: String, name: String, defaults: ModelDefaults)
    /// The gallery's images (paths), best match first, for a CLIP search.
    case galleryRanked(paths: [String], query: String)
}
