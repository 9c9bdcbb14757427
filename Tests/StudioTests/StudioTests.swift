import Foundation
import Pipeline
import Studio
import TerminalGraphics
import Testing

@Suite struct StudioTests {
    static let keymapText: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("assets/keymap")
        return try! String(contentsOf: url, encoding: .utf8)
    }()

    func model() throws -> StudioModel {
        var request = GenerationRequest(prompt: "")
        (request.width, request.height, request.steps, request.cfgScale, request.sampler, request.schedule) = (128, 128, 20, 5, "euler", "normal")
        return StudioModel(request: request, keymap: try Keymap(parsing: Self.keymapText, source: "assets/keymap"), modelName: "test", seed: 1)
    }

    func type(_ text: String, _ m: inout StudioModel) -> [Effect] { text.flatMap { update(&m, .key(.char($0))) } }

    @Test func typingAndReadlineEditing() throws {
        var m = try model()
        _ = type("a red circle", &m)
        #expect(m.prompt.string == "a red circle")
        _ = update(&m, .key(.ctrl("w")))
        #expect(m.prompt.string == "a red ")
        _ = update(&m, .key(.ctrl("a")))
        _ = type("big ", &m)
        #expect(m.prompt.string == "big a red " && m.prompt.cursor == 4)
        _ = update(&m, .key(.ctrl("k")))
        #expect(m.prompt.string == "big ")
        _ = update(&m, .key(.ctrl("z")))
        #expect(m.prompt.string == "big a red ")
        _ = update(&m, .key(.ctrl("y")))
        #expect(m.prompt.string == "big ")
        _ = update(&m, .key(.ctrl("u")))
        #expect(m.prompt.string.isEmpty)
        _ = type("one two three", &m)
        _ = update(&m, .key(.alt("b")))
        _ = update(&m, .key(.alt("b")))
        #expect(m.prompt.cursor == 4)
        _ = update(&m, .key(.alt("f")))
        #expect(m.prompt.cursor == 7)
        _ = update(&m, .key(.backspace))
        #expect(m.prompt.string == "one tw three")
    }

    @Test func enterGeneratesTheRequestAndProgressFinishes() throws {
        var m = try model()
        #expect(update(&m, .key(.enter)).isEmpty)   // empty prompt: an error, no effect
        #expect(m.status == .failed("The prompt is empty"))
        _ = type("a blue star", &m)
        _ = update(&m, .key(.tab))
        _ = type("blurry", &m)
        #expect(m.negative.string == "blurry")
        let effects = update(&m, .key(.ctrl("g")))
        guard case let .generate(request) = effects.first else { Issue.record("no generate effect: \(effects)"); return }
        #expect(request.prompt == "a blue star" && request.negativePrompt == "blurry" && request.steps == 20 && request.seed == 0)
        #expect(update(&m, .key(.enter)).isEmpty)   // already running
        _ = update(&m, .progress(step: 5, steps: 20, seconds: 1, preview: Canvas(width: 2, height: 2, fill: RGB(0, 255, 0))))
        #expect(view(m).text.contains("5/20"))
        #expect(m.image == Canvas(width: 2, height: 2, fill: RGB(0, 255, 0)))   // the preview is shown while it runs
        #expect(update(&m, .key(.escape)) == [.cancel])
        _ = update(&m, .finished(path: "outputs/00000-0.png", image: Canvas(width: 4, height: 4, fill: RGB(255, 0, 0)), seconds: 2))
        #expect(m.status == .done(path: "outputs/00000-0.png", seconds: 2) && m.request.seed == 1)   // seed mode +1
    }

    @Test func parametersChangeWithArrowKeys() throws {
        var m = try model()
        _ = update(&m, .key(.backTab))
        #expect(m.focus == .params)
        _ = update(&m, .key(.right))
        #expect(m.request.steps == 21)
        _ = update(&m, .key(.down))
        _ = update(&m, .key(.left))
        #expect(m.request.cfgScale == 4.5)
        for _ in 0..<3 { _ = update(&m, .key(.down)) }
        #expect(m.selectedParam == .sampler)
        _ = update(&m, .key(.right))
        #expect(m.request.sampler == "euler_a")
        _ = update(&m, .key(.down)); _ = update(&m, .key(.down))
        _ = update(&m, .key(.right))
        #expect(m.request.width == 256 && m.request.height == 256)
        // Random seed mode draws a new seed per run, repeatably from the model's own state.
        _ = update(&m, .key(.char("s")))
        #expect(m.seedMode == .random)
        m.prompt = LineEditor("x")
        var copy = m
        let a = update(&m, .key(.enter)), b = update(&copy, .key(.enter))
        #expect(a == b && m.request.seed != 0)
    }

    @Test func viewShowsPromptTokensParametersImageAndHelp() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = type("a red circle", &m)
        _ = update(&m, .tokenCount(used: 3, capacity: 30))
        var screen = view(m)
        #expect(screen.width == 100 && screen.height == 30)
        #expect(screen.text.contains("Prompt 3/30") && screen.text.contains("a red circle"))
        #expect(screen.text.contains("Steps") && screen.text.contains("Euler") && screen.text.contains("128×128"))
        #expect(screen.cursor?.row == 3 && screen.cursor?.column == 2 + 12)
        #expect(screen.text.contains("enter generate"))
        _ = update(&m, .finished(path: "p.png", image: Canvas(width: 8, height: 8, fill: RGB(0, 0, 255)), seconds: 1))
        screen = view(m)
        #expect(screen.cells.flatMap { $0 }.contains { $0.character == "▀" && $0.foreground == .rgb(RGB(0, 0, 255)) })
        #expect(view(m, depth: .palette256).cells.flatMap { $0 }.contains { $0.foreground == .palette(21) })
        _ = update(&m, .key(.function(1)))
        #expect(view(m).text.contains("delete-word"))
        _ = update(&m, .key(.char("x")))   // any key closes help and does nothing else
        #expect(!m.showHelp && m.prompt.string == "a red circle")
        _ = update(&m, .resize(width: 30, height: 10))
        #expect(view(m).text.contains("Terminal too small"))
        #expect(update(&m, .key(.ctrl("q"))) == [.quit])
    }

    @Test func galleryBrowseOpenRerunAndTrash() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        #expect(update(&m, .key(.function(2))) == [.loadGallery] && m.showGallery)
        var stored = GenerationRequest(prompt: "a pink ring")
        (stored.steps, stored.seed, stored.negativePrompt) = (7, 42, "dark")
        var items: [GalleryItem] = []
        for i in 0..<7 {
            let thumb = Canvas(width: 16, height: 16, fill: RGB(UInt8(i * 30), 0, 0))
            let prompt = i == 3 ? "a pink ring" : "image \(i)"
            items.append(GalleryItem(path: "out/\(i).png", prompt: prompt, request: i == 3 ? stored : nil,
                                     thumbnail: thumb, image: Canvas(width: 32, height: 32)))
        }
        _ = update(&m, .galleryLoaded(items))
        #expect(view(m).text.contains("Gallery: 7 images") && view(m).text.contains("image 0"))
        #expect(galleryColumns(width: 100) == 5)
        _ = update(&m, .key(.down))          // next row: item 5
        #expect(m.gallerySelection == 5)
        _ = update(&m, .key(.left)); _ = update(&m, .key(.left))
        #expect(m.gallerySelection == 3)
        _ = update(&m, .key(.enter))         // open: its request goes into the editors
        #expect(!m.showGallery && m.prompt.string == "a pink ring" && m.negative.string == "dark")
        #expect(m.request.steps == 7 && m.request.seed == 42 && m.imagePath == "out/3.png")
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded(items))
        let rerun = update(&m, .key(.char("r")))
        guard case let .generate(request) = rerun.first else { Issue.record("no re-run: \(rerun)"); return }
        #expect(request.prompt == "a pink ring" && request.seed == 42)
        _ = update(&m, .cancelled)
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded(items))
        let varied = update(&m, .key(.char("v")))
        guard case let .generate(variation) = varied.first else { Issue.record("no variation: \(varied)"); return }
        #expect(variation.prompt == "a pink ring" && variation.seed == 43)
        _ = update(&m, .cancelled)
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded(items))
        m.gallerySelection = 6
        #expect(update(&m, .key(.char("d"))).isEmpty && m.confirmTrash)
        #expect(view(m).text.contains("Move out/6.png to .trash?"))
        #expect(update(&m, .key(.char("n"))).isEmpty && !m.confirmTrash && m.gallery.count == 7)   // anything else: no
        _ = update(&m, .key(.char("d")))
        #expect(update(&m, .key(.char("y"))) == [.trash("out/6.png")] && m.gallery.count == 6 && m.gallerySelection == 5)
        _ = update(&m, .key(.escape))
        #expect(!m.showGallery)
    }

    @Test func promptHistoryWithUpAndDown() throws {
        var m = try model()
        m.history = ["first prompt", "second prompt"]
        _ = type("draft", &m)
        _ = update(&m, .key(.up))
        #expect(m.prompt.string == "second prompt")
        _ = update(&m, .key(.up)); _ = update(&m, .key(.up))
        #expect(m.prompt.string == "first prompt")
        _ = update(&m, .key(.down)); _ = update(&m, .key(.down))
        #expect(m.prompt.string == "draft" && m.historyIndex == nil)
        let effects = update(&m, .key(.enter))
        #expect(effects.count == 2 && effects[1] == .remember("draft") && m.history.last == "draft")
        _ = update(&m, .finished(path: "p.png", image: Canvas(width: 1, height: 1), seconds: 1))
        #expect(update(&m, .key(.enter)).count == 1)   // the same prompt again is not stored twice
    }

    @Test func maskPainterPaintsAndInpaints() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = update(&m, .key(.function(2)))
        var stored = GenerationRequest(prompt: "a green square")
        stored.seed = 5
        let item = GalleryItem(path: "out/00003-5.png", prompt: "a green square", request: stored,
                               thumbnail: Canvas(width: 16, height: 16), image: Canvas(width: 64, height: 64, fill: RGB(0, 0, 255)))
        _ = update(&m, .galleryLoaded([item]))
        _ = update(&m, .key(.char("m")))
        let p0 = try #require(m.painter)
        #expect(p0.maskPath == "out/00003-5.mask.png" && p0.isEmpty && m.prompt.string == "a green square")
        #expect(update(&m, .key(.enter)).isEmpty)            // nothing painted yet: refused
        #expect(m.status == .failed("The mask is empty: paint the part to repaint"))
        _ = update(&m, .key(.char(" ")))                       // pen down: paints at the cursor
        _ = update(&m, .key(.right)); _ = update(&m, .key(.right))
        let p1 = try #require(m.painter)
        #expect(!p1.isEmpty && p1.mask[32 * 64 + 32] && !p1.mask[0])
        #expect(view(m).text.contains("pen down"))
        _ = update(&m, .key(.char("i")))
        #expect(try #require(m.painter).mask[0] && !(try #require(m.painter).mask[32 * 64 + 32]))
        _ = update(&m, .key(.char("i")))
        let effects = update(&m, .key(.enter))
        guard effects.count >= 2, case let .saveMask(path, mask) = effects[0], case let .generate(request) = effects[1] else {
            Issue.record("effects \(effects)"); return
        }
        #expect(path == "out/00003-5.mask.png" && mask.pixels[32 * 64 + 32] == RGB(255, 255, 255) && mask.pixels[0] == RGB(0, 0, 0))
        #expect(request.initImage == "out/00003-5.png" && request.mask == path && request.strength == 1 && request.width == 64)
        #expect(m.painter == nil && !m.showGallery && m.request.mask == nil)   // the next plain generation is text-to-image again
    }

    func galleryItems() -> [GalleryItem] {
        (0..<7).map { i in
            var r = GenerationRequest(prompt: i == 3 ? "a pink ring" : "image \(i)")
            r.seed = UInt64(i)
            return GalleryItem(path: "out/\(i).png", prompt: r.prompt, request: r, thumbnail: Canvas(width: 16, height: 16),
                               image: Canvas(width: 48, height: 32), clipScore: i == 3 ? 71.25 : nil)
        }
    }

    /// / types a filter on the prompts: the grid shows the matches, Esc clears the filter, a second Esc leaves;
    /// i starts img2img from the selected image (its size, the strength parameter), and Start from goes back.
    @Test func galleryFilterAndImg2img() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded(galleryItems()))
        _ = update(&m, .key(.char("/")))
        #expect(m.editingFilter)
        _ = type("PINK", &m)
        #expect(m.visibleGallery.map(\.path) == ["out/3.png"] && view(m).text.contains("1 of 7 images with \"PINK\""))
        _ = update(&m, .key(.enter))
        #expect(!m.editingFilter && m.visibleGallery.count == 1 && m.gallerySelection == 0)
        #expect(view(m).text.contains("a pink ring  CLIP 71.2"), "the selected image's CLIP score under the grid")
        _ = update(&m, .key(.char("i")))
        #expect(!m.showGallery && m.request.initImage == "out/3.png" && m.request.width == 48 && m.request.height == 32)
        #expect(m.prompt.string == "a pink ring" && m.value(of: .source) == "img2img: 3.png" && m.value(of: .strength) == "0.75")
        let effects = update(&m, .key(.enter))
        guard case let .generate(request) = effects.first else { Issue.record("\(effects)"); return }
        #expect(request.initImage == "out/3.png" && request.strength == 0.75)
        _ = update(&m, .cancelled)
        m.focus = .params
        m.selectedParam = .strength
        _ = update(&m, .key(.left))
        #expect(m.request.strength == 0.7)
        // CLIP guidance: off, steps of 50 with the arrows, typed values; the request carries it.
        m.selectedParam = .clipGuidance
        #expect(m.value(of: .clipGuidance) == "off")
        _ = update(&m, .key(.right))
        _ = update(&m, .key(.right))
        _ = update(&m, .resize(width: 100, height: 45))
        #expect(m.request.clipGuidanceScale == 100 && m.value(of: .clipGuidance) == "100" && view(m).text.contains("CLIP guidance ◂ 100 ▸"))
        _ = update(&m, .resize(width: 100, height: 30))
        _ = type("250", &m)
        _ = update(&m, .key(.enter))
        #expect(m.request.clipGuidanceScale == 250)
        _ = update(&m, .key(.left))
        #expect(m.request.clipGuidanceScale == 200)
        // Layout: off ⇄ auto (regional prompting); the request carries it; a model's own recommendation sets it.
        m.selectedParam = .layout
        #expect(m.value(of: .layout) == "off")
        _ = update(&m, .key(.right))
        #expect(m.request.layout == "auto" && view(m).text.contains("Layout        ◂ auto"))
        _ = update(&m, .key(.right))
        #expect(m.request.layout == "off")
        var other = m
        _ = update(&other, .modelLoaded(path: "/m", name: "m", defaults: ModelDefaults(layout: "auto")))
        #expect(other.request.layout == "auto")
        _ = update(&other, .modelLoaded(path: "/n", name: "n", defaults: ModelDefaults()))
        #expect(other.request.layout == "off")
        // Precision: fp32 ⇄ bf16 where the CPU can (the request carries it); elsewhere it stays fp32 and says why.
        m.selectedParam = .precision
        #expect(m.value(of: .precision) == "fp32")
        _ = update(&m, .key(.right))
        #expect(!m.request.bf16 && m.value(of: .precision) == "fp32" && view(m).text.contains("bf16 needs a CPU"))
        m.bf16Available = true
        _ = update(&m, .key(.right))
        #expect(m.request.bf16 && view(m).text.contains("Precision     ◂ bf16 ▸"))
        _ = update(&m, .key(.left))
        #expect(!m.request.bf16)
        m.selectedParam = .source
        _ = update(&m, .key(.right))
        #expect(m.request.initImage == nil && m.value(of: .source) == "txt2img")
        _ = update(&m, .key(.function(2)))
        #expect(m.visibleGallery.count == 1)              // the filter stays until cleared
        _ = update(&m, .key(.escape))
        #expect(m.showGallery && m.visibleGallery.count == 7)
        _ = update(&m, .key(.escape))
        #expect(!m.showGallery)
        // With 24 rows the parameter list scrolls to keep the selection visible.
        _ = update(&m, .resize(width: 80, height: 24))
        m.selectedParam = .model
        #expect(view(m).text.contains("Model") && view(m).text.contains("test"))
    }

    /// Batch count N: one generate action makes N images one after another, the seed mode applied between them;
    /// a failure or cancel ends the run.
    @Test func batchCountRunsOneAfterAnother() throws {
        var m = try model()
        _ = type("a boat", &m)
        m.focus = .params
        m.selectedParam = .batch
        _ = update(&m, .key(.right)); _ = update(&m, .key(.right))
        #expect(m.batchCount == 3 && m.value(of: .batch) == "3")
        m.request.seed = 10
        var seeds: [UInt64] = []
        if case let .generate(r) = update(&m, .key(.enter)).first { seeds.append(r.seed) }
        for _ in 0..<3 {
            if case let .generate(r) = update(&m, .finished(path: "p.png", image: Canvas(width: 1, height: 1), seconds: 1)).first { seeds.append(r.seed) }
        }
        #expect(seeds == [10, 11, 12] && !m.running && m.batchRemaining == 0)
        _ = update(&m, .key(.enter))
        _ = update(&m, .cancelled)
        #expect(m.batchRemaining == 0 && update(&m, .finished(path: "q.png", image: Canvas(width: 1, height: 1), seconds: 1)).isEmpty)
    }

    /// The model parameter cycles through the found models; the choice loads off the UI thread (generation waits),
    /// and the model's recommended settings arrive with it.
    @Test func switchingModels() throws {
        var m = try model()
        m.models = ["assets/default", "models/sd15.safetensors"]
        m.modelPath = "assets/default"
        _ = type("a cat", &m)
        m.focus = .params
        m.selectedParam = .model
        #expect(update(&m, .key(.right)) == [.loadModel("models/sd15.safetensors")] && m.loadingModel)
        #expect(update(&m, .key(.enter)).isEmpty && m.status == .failed("The model is still loading"))
        _ = update(&m, .modelLoaded(path: "models/sd15.safetensors", name: "sd15", defaults: ModelDefaults()))
        #expect(!m.loadingModel && m.modelName == "sd15" && m.request.width == 512 && m.request.cfgScale == 7)
        #expect(view(m).text.contains("phosphor studio — sd15"))
        _ = update(&m, .key(.left))
        _ = update(&m, .modelLoaded(path: "assets/default", name: "phosphor-default", defaults: ModelDefaults(width: 128, height: 128, steps: 20, cfgScale: 5)))
        #expect(m.request.width == 128 && m.request.cfgScale == 5)
        _ = update(&m, .key(.right))
        _ = update(&m, .failed("cannot load models/sd15.safetensors: truncated"))
        #expect(!m.loadingModel && m.modelName == "phosphor-default")   // the studio keeps running with the old model
    }

    /// The painter's rectangle tool, the mouse (press paints where it points, drag paints along, release lifts the
    /// pen, through the same layout the view draws), and a mask file loaded into it.
    @Test func painterRectangleMouseAndLoadedMask() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = update(&m, .key(.function(2)))
        let item = GalleryItem(path: "out/7.png", prompt: "a tree", request: nil, thumbnail: Canvas(width: 16, height: 16),
                               image: Canvas(width: 64, height: 64, fill: RGB(0, 128, 0)))
        _ = update(&m, .galleryLoaded([item]))
        #expect(update(&m, .key(.char("m"))) == [.loadMask(path: "out/7.mask.png", quiet: true)])
        var p = try #require(m.painter)
        (p.x, p.y) = (10, 10)
        m.painter = p
        _ = update(&m, .key(.char("r")))
        #expect(view(m).text.contains("rectangle: move to the other corner"))
        for _ in 0..<3 { _ = update(&m, .key(.right)); _ = update(&m, .key(.down)) }
        _ = update(&m, .key(.char("r")))
        p = try #require(m.painter)
        #expect(p.rectangleAnchor == nil && p.mask[10 * 64 + 10] && p.mask[p.y * 64 + p.x] && !p.mask[(p.y + 1) * 64 + p.x + 1])
        _ = update(&m, .key(.char("c")))
        // Mouse: the cell over pixel (48, 40) of the fitted image.
        let layout = painterLayout(try #require(m.painter), width: 100, height: 30)
        func cell(_ px: Int, _ py: Int) -> (row: Int, column: Int) {
            (layout.top + py * layout.height / 64 / 2, layout.left + px * layout.width / 64)
        }
        let a = cell(48, 40), b = cell(16, 40)
        _ = update(&m, .mouse(MouseEvent(row: a.row, column: a.column, kind: .press)))
        p = try #require(m.painter)
        #expect(p.penDown && abs(p.x - 48) <= 1 && abs(p.y - 40) <= 2 && p.mask[40 * 64 + 48])
        _ = update(&m, .mouse(MouseEvent(row: b.row, column: b.column, kind: .drag)))
        p = try #require(m.painter)
        #expect(p.mask[40 * 64 + 32] && p.mask[40 * 64 + 17] && !p.mask[10 * 64 + 32])   // the stroke between, nothing else
        _ = update(&m, .mouse(MouseEvent(row: b.row, column: b.column, kind: .release)))
        #expect(!(try #require(m.painter)).penDown)
        // A mask made elsewhere (white = repaint), loaded with o.
        #expect(update(&m, .key(.char("o"))) == [.loadMask(path: "out/7.mask.png", quiet: false)])
        var file = Canvas(width: 64, height: 64)
        for y in 0..<8 { for x in 0..<64 { file[x, y] = RGB(255, 255, 255) } }
        _ = update(&m, .maskLoaded(path: "out/7.mask.png", mask: file))
        p = try #require(m.painter)
        #expect(p.mask[3 * 64 + 5] && !p.mask[40 * 64 + 48] && m.status == .idle("Loaded the mask 7.mask.png"))
    }

    /// With sixel or kitty graphics the image pane is a placement of the full picture over blank cells (no half-blocks),
    /// and overlays (gallery, help) take it away; the painter places its preview the same way.
    @Test func pixelGraphicsPlacements() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        m.image = Canvas(width: 128, height: 128, fill: RGB(200, 10, 10))
        let cells = view(m, graphics: .halfblocks)
        #expect(cells.image == nil && cells.text.contains("▀"))
        let kitty = view(m, graphics: .kitty)
        let placement = try #require(kitty.image)
        #expect(!kitty.text.contains("▀") && placement.canvas.width == 128 && placement.row == 1 && placement.columns > 20 && placement.rows > 10)
        #expect(placement.column + placement.columns <= 100 && placement.row + placement.rows <= 28)
        m.showHelp = true
        #expect(view(m, graphics: .sixel).image == nil)
        m.showHelp = false
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded([GalleryItem(path: "a.png", prompt: "a", request: nil, thumbnail: Canvas(width: 16, height: 16),
                                                   image: Canvas(width: 64, height: 64))]))
        #expect(view(m, graphics: .sixel).image == nil)
        _ = update(&m, .key(.char("m")))
        let painter = try #require(view(m, graphics: .sixel).image)
        #expect(painter.canvas.width == 64 && painter.row == 2)
    }

    /// Alt-Enter starts a new line in a prompt; line-start/line-end and the kills work on the cursor's line; the
    /// editor shows the lines as rows.
    @Test func multiLinePrompts() throws {
        var m = try model()
        _ = type("a castle on a hill", &m)
        _ = update(&m, .key(.alt("\n")))
        _ = type("BREAK", &m)
        _ = update(&m, .key(.alt("\n")))
        _ = type("stormy sky", &m)
        #expect(m.prompt.string == "a castle on a hill\nBREAK\nstormy sky")
        _ = update(&m, .key(.ctrl("a")))
        _ = type("dark ", &m)
        #expect(m.prompt.string == "a castle on a hill\nBREAK\ndark stormy sky")
        _ = update(&m, .key(.up))           // (history is empty: nothing)
        for _ in 0..<9 { _ = update(&m, .key(.left)) }    // back over "dark ", the newline and "EAK"
        _ = update(&m, .key(.ctrl("k")))
        #expect(m.prompt.string == "a castle on a hill\nBR\ndark stormy sky")
        let wrapped = m.prompt.wrapped(width: 30)
        #expect(wrapped.lines == ["a castle on a hill", "BR", "dark stormy sky"] && wrapped.cursorRow == 1 && wrapped.cursorColumn == 2)
        _ = update(&m, .resize(width: 100, height: 30))
        let text = view(m).text
        #expect(text.contains("a castle on a hill") && text.contains("  BR ") && text.contains("dark stormy sky"))
        #expect(Key.alt("\n").name == "alt-enter")
        // A paste is text: its newlines stay in the prompt and nothing is generated.
        let pasted = update(&m, .paste("\r\nsecond line\nthird"))
        #expect(pasted.isEmpty && !m.running && m.prompt.string.hasSuffix("BR\nsecond line\nthird\ndark stormy sky"))
    }

    /// Numeric parameters can be typed: digits build the value (shown with a cursor), Enter applies it without
    /// generating, moving on applies it too, Escape drops it; values are clamped to their ranges.
    @Test func typedParameterValues() throws {
        var m = try model()
        _ = type("a kite", &m)
        m.focus = .params
        m.selectedParam = .steps
        _ = type("35", &m)
        #expect(m.value(of: .steps) == "35_" && view(m).text.contains("35_"))
        #expect(update(&m, .key(.enter)).isEmpty && m.request.steps == 35 && m.typedValue == nil)
        _ = update(&m, .key(.down))                  // CFG
        _ = type("7.5", &m)
        _ = update(&m, .key(.down))                  // moving on applies it
        #expect(m.request.cfgScale == 7.5 && m.selectedParam == .seed)
        _ = type("4294967296", &m)
        _ = update(&m, .key(.backspace))
        _ = update(&m, .key(.enter))
        #expect(m.request.seed == 429496729)
        _ = type("99", &m)
        _ = update(&m, .key(.escape))
        #expect(m.request.seed == 429496729 && m.typedValue == nil)
        m.selectedParam = .steps
        _ = type("5000", &m)
        _ = update(&m, .key(.enter))
        #expect(m.request.steps == 150)
        m.selectedParam = .sampler                   // not typable: digits do nothing
        _ = type("3", &m)
        #expect(m.typedValue == nil && m.request.sampler == "euler")
    }

    /// s in the gallery types a CLIP search; Enter asks the runtime to rank, the answer reorders the gallery, Escape
    /// goes back to newest first (reloading).
    @Test func galleryClipSearch() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = update(&m, .key(.function(2)))
        _ = update(&m, .galleryLoaded(galleryItems()))
        _ = update(&m, .key(.char("s")))
        _ = type("pink ring", &m)
        #expect(view(m).text.contains("CLIP search: pink ring"))
        #expect(update(&m, .key(.enter)) == [.searchGallery("pink ring")] && !m.editingSearch)
        _ = update(&m, .galleryRanked(paths: ["out/3.png", "out/6.png"], query: "pink ring"))
        #expect(m.gallery.map(\.path).prefix(3) == ["out/3.png", "out/6.png", "out/0.png"] && m.gallerySelection == 0)
        #expect(view(m).text.contains("ranked by CLIP similarity to \"pink ring\""))
        #expect(update(&m, .key(.escape)) == [.loadGallery] && m.galleryRankedBy == nil && m.showGallery)
    }

    /// Space in the gallery shows the image large with its whole metadata; any key returns.
    @Test func galleryDetails() throws {
        var m = try model()
        _ = update(&m, .resize(width: 100, height: 30))
        _ = update(&m, .key(.function(2)))
        var items = galleryItems()
        items[0].request?.negativePrompt = "blurry, low quality"
        _ = update(&m, .galleryLoaded(items))
        _ = update(&m, .key(.char(" ")))
        #expect(m.showDetails)
        let text = view(m).text
        #expect(text.contains("out/0.png") && text.contains("48×32") && text.contains("Negative prompt: blurry, low quality"))
        #expect(text.contains("Steps: 20, Sampler: DPM++ 2M") && text.contains("▀"))
        _ = update(&m, .key(.char("x")))
        #expect(!m.showDetails && m.showGallery)
    }

    @Test func keymapErrorsNameTheLine() {
        #expect(throws: KeymapError.malformed(source: "k", line: 2, "unknown action 'fly'")) {
            try Keymap(parsing: "global ctrl-q quit\nprompt ctrl-x fly\n", source: "k")
        }
        #expect(throws: KeymapError.malformed(source: "k", line: 1, "expected CONTEXT KEY ACTION")) {
            try Keymap(parsing: "global ctrl-q\n", source: "k")
        }
        var k = try! Keymap(parsing: "global ctrl-q quit # comment\n", source: "k")
        try! k.merge("global ctrl-q help\n", source: "user")
        #expect(k.action(for: .ctrl("q"), in: "prompt") == "help")
    }

    @Test func halfBlocksAndPaletteMapping() {
        var c = Canvas(width: 2, height: 3, fill: RGB(0, 0, 0))
        c[0, 0] = RGB(255, 0, 0); c[0, 1] = RGB(0, 255, 0); c[1, 2] = RGB(255, 255, 255)
        let cells = HalfBlockRenderer(depth: .truecolor).render(c)
        #expect(cells.count == 2 && cells[0].count == 2)
        #expect(cells[0][0] == Cell("▀", foreground: .rgb(RGB(255, 0, 0)), background: .rgb(RGB(0, 255, 0))))
        #expect(cells[1][1].foreground == .rgb(RGB(255, 255, 255)) && cells[1][1].background == .rgb(RGB(0, 0, 0)))
        // xterm-256: cube index 16 + 36r + 6g + b; greys from the 232… ramp.
        #expect(HalfBlockRenderer.xterm256(RGB(255, 0, 0)) == 16 + 36 * 5)
        #expect(HalfBlockRenderer.xterm256(RGB(128, 128, 128)) == 232 + 12)
        let big = Canvas(width: 4, height: 2, rgb: [255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255])
        #expect(big.resized(width: 2, height: 1).pixels == [RGB(255, 0, 0), RGB(0, 0, 255)])
    }

    @Test func wrappingKeepsTheCursorVisible() {
        var e = LineEditor("aaaa bbbb cccc")
        let w = e.wrapped(width: 6)
        #expect(w.lines == ["aaaa ", "bbbb ", "cccc"] && w.cursorRow == 2 && w.cursorColumn == 4)
        e.lineStart()
        #expect(e.wrapped(width: 6).cursorRow == 0)
    }
}
