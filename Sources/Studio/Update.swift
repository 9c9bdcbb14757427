import Foundation
import Pipeline
import Samplers

/// The studio's transition function: the new state and the effects for the runtime. Pure.
public func update(_ model: inout StudioModel, _ message: Message) -> [Effect] {
    switch message {
    case let .resize(width, height):
        (model.width, model.height) = (width, height)
        return []
    case let .progress(step, steps, seconds, preview):
        if model.running {
            model.status = .generating(step: step, steps: steps, seconds: seconds)
            if let preview { model.image = preview }
        }
        return []
    case let .finished(path, image, seconds):
        model.status = .done(path: path, seconds: seconds)
        model.image = image
        model.imagePath = path
        if model.seedMode == .increment { model.request.seed += 1 }
        // The rest of a batch: one image after another, the seed mode applied between them.
        if model.batchRemaining > 0 {
            model.batchRemaining -= 1
            if model.seedMode == .random { model.request.seed = model.nextRandomSeed() }
            return generateNow(&model)
        }
        return []
    case let .failed(text):
        model.status = .failed(text)
        model.batchRemaining = 0
        model.loadingModel = false
        return []
    case .cancelled:
        model.status = .idle("Cancelled")
        model.batchRemaining = 0
        return []
    case let .mouse(event):
        return painterMouse(event, &model)
    case let .paste(text):
        let clean = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if model.showGallery && model.editingFilter {
            model.galleryFilter.insert(clean.replacingOccurrences(of: "\n", with: " "))
        } else if !model.showGallery && model.painter == nil {
            editor(&model) { $0.insert(clean) }
        }
        return []
    case let .maskLoaded(path, mask):
        guard var p = model.painter, p.maskPath == path else { return [] }
        p.load(mask)
        model.painter = p
        model.status = .idle("Loaded the mask " + (path as NSString).lastPathComponent)
        return []
    case let .modelLoaded(path, name, defaults):
        model.modelPath = path
        model.modelName = name
        model.request.width = defaults.width ?? 512
        model.request.height = defaults.height ?? 512
        model.request.steps = defaults.steps ?? 20
        model.request.cfgScale = defaults.cfgScale ?? 7
        if let sampler = defaults.sampler { model.request.sampler = sampler }
        if let schedule = defaults.schedule { model.request.schedule = schedule }
        model.request.layout = defaults.layout ?? "off"
        model.request.initImage = nil
        model.loadingModel = false
        model.tokenCount = nil
        model.status = .idle("Model: " + name)
        return []
    case let .tokenCount(used, capacity):
        model.tokenCount = (used, capacity)
        return []
    case let .galleryRanked(paths, query):
        let rank = Dictionary(paths.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        model.gallery.sort { (rank[$0.path] ?? Int.max) < (rank[$1.path] ?? Int.max) }
        model.galleryRankedBy = query
        model.gallerySelection = 0
        model.status = .idle("Ranked by CLIP similarity to \"\(query)\"")
        return []
    case let .galleryLoaded(items):
        model.galleryRankedBy = nil
        model.gallery = items
        model.gallerySelection = min(model.gallerySelection, max(0, items.count - 1))
        return []
    case let .key(key):
        return handle(key, &model)
    }
}

func handle(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    if model.showHelp {
        // Any key closes the help overlay (its own bindings first, e.g. quit).
        let action = model.keymap.action(for: key, in: "help")
        model.showHelp = false
        return action == "quit" ? [.quit] : []
    }
    if model.painter != nil { return painterKey(key, &model) }
    if model.showGallery { return galleryKey(key, &model) }
    if model.focus == .params, let done = typeValue(key, &model) { return done }
    let context = model.focus == .params ? "params" : "prompt"
    guard let action = model.keymap.action(for: key, in: context) else {
        if case let .char(c) = key, model.focus != .params { editor(&model) { $0.insert(String(c)) } }
        return []
    }
    switch action {
    case "quit": return model.running ? [.cancel, .quit] : [.quit]
    case "help": model.showHelp = true
    case "gallery":
        model.showGallery = true
        model.confirmTrash = false
        return [.loadGallery]
    case "next-field", "previous-field":
        model.focus = cycled(StudioModel.Field.allCases, from: model.focus, by: action == "next-field" ? 1 : -1)
    case "generate":
        guard !model.running else { return [] }
        guard !model.loadingModel else { model.status = .failed("The model is still loading"); return [] }
        let text = model.prompt.string.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { model.status = .failed("The prompt is empty"); return [] }
        if model.seedMode == .random { model.request.seed = model.nextRandomSeed() }
        model.batchRemaining = model.batchCount - 1
        return generateNow(&model)
    case "cancel": return model.running ? [.cancel] : []
    case "history-previous", "history-next":
        guard model.focus == .prompt, !model.history.isEmpty else { return [] }
        if model.historyIndex == nil { model.draft = model.prompt.string }
        let last = model.history.count - 1
        let current = model.historyIndex ?? model.history.count
        let next = action == "history-previous" ? max(0, current - 1) : current + 1
        if next > last {
            model.historyIndex = nil
            model.prompt = LineEditor(model.draft)
        } else {
            model.historyIndex = next
            model.prompt = LineEditor(model.history[next])
        }
    case "previous-param", "next-param":
        model.selectedParam = cycled(StudioModel.Param.allCases, from: model.selectedParam, by: action == "next-param" ? 1 : -1)
    case "decrease", "increase": return adjust(&model, by: action == "increase" ? 1 : -1)
    case "seed-mode": model.seedMode = cycled(StudioModel.SeedMode.allCases, from: model.seedMode, by: 1)
    default: editor(&model) { e in
        switch action {
        case "left": e.left()
        case "right": e.right()
        case "line-start": e.lineStart()
        case "line-end": e.lineEnd()
        case "word-left": e.wordLeft()
        case "word-right": e.wordRight()
        case "backspace": e.backspace()
        case "delete": e.deleteForward()
        case "delete-word": e.deleteWordBefore()
        case "delete-to-start": e.deleteToStart()
        case "delete-to-end": e.deleteToEnd()
        case "undo": e.undo()
        case "newline": e.insert("\n")
        case "redo": e.redo()
        default: break
        }
    }
    }
    return []
}

/// Gallery mode: move through the grid (of the items the filter lets through), open an image (its request into the
/// editors, the image into the pane), re-run it, vary its seed, start img2img or a mask from it, or move it to the
/// trash after a confirmation; / types a filter on the prompts.
func galleryKey(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    if model.editingFilter { return filterKey(key, &model) }
    if model.editingSearch { return searchKey(key, &model) }
    if model.showDetails {
        // Any key closes the details view (quit still quits).
        model.showDetails = false
        return model.keymap.action(for: key, in: "gallery") == "quit" ? (model.running ? [.cancel, .quit] : [.quit]) : []
    }
    let action = model.keymap.action(for: key, in: "gallery")
    let items = model.visibleGallery
    if model.confirmTrash {
        model.confirmTrash = false
        guard action == "confirm", items.indices.contains(model.gallerySelection) else { return [] }
        let path = items[model.gallerySelection].path
        model.gallery.removeAll { $0.path == path }
        model.gallerySelection = min(model.gallerySelection, max(0, model.visibleGallery.count - 1))
        if model.imagePath == path { model.image = nil; model.imagePath = nil }
        return [.trash(path)]
    }
    let columns = galleryColumns(width: model.width)
    let count = items.count
    switch action {
    case "quit": return model.running ? [.cancel, .quit] : [.quit]
    case "gallery", "cancel":
        // Escape clears a filter first, then a CLIP ranking (newest first again), then leaves.
        if !model.galleryFilter.string.isEmpty && key == .escape {
            model.galleryFilter = LineEditor()
            model.gallerySelection = 0
        } else if model.galleryRankedBy != nil && key == .escape {
            model.galleryRankedBy = nil
            model.gallerySelection = 0
            return [.loadGallery]
        } else {
            model.showGallery = false
        }
    case "help": model.showHelp = true
    case "filter": model.editingFilter = true
    case "search":
        model.editingSearch = true
        model.searchQuery = LineEditor()
    case "details": if items.indices.contains(model.gallerySelection) { model.showDetails = true }
    case "previous-item": model.gallerySelection = max(0, model.gallerySelection - 1)
    case "next-item": model.gallerySelection = min(max(0, count - 1), model.gallerySelection + 1)
    case "row-up": model.gallerySelection = max(0, model.gallerySelection - columns)
    case "row-down": model.gallerySelection = min(max(0, count - 1), model.gallerySelection + columns)
    case "trash": if count > 0 { model.confirmTrash = true }
    case "paint-mask":
        guard items.indices.contains(model.gallerySelection) else { return [] }
        let item = items[model.gallerySelection]
        let painter = MaskPainter(imagePath: item.path, image: item.image)
        model.painter = painter
        if let r = item.request, model.prompt.string.isEmpty { model.prompt = LineEditor(r.prompt) }
        // A mask saved earlier (or made elsewhere as NAME.mask.png) is loaded into the painter.
        return [.loadMask(path: painter.maskPath, quiet: true)]
    case "img2img":
        guard items.indices.contains(model.gallerySelection) else { return [] }
        let item = items[model.gallerySelection]
        if let r = item.request, model.prompt.string.isEmpty { model.prompt = LineEditor(r.prompt) }
        model.request.initImage = item.path
        (model.request.width, model.request.height) = (item.image.width, item.image.height)
        model.image = item.image
        model.imagePath = item.path
        model.showGallery = false
        model.focus = .prompt
        model.status = .idle("img2img from \((item.path as NSString).lastPathComponent), strength \(String(format: "%.2f", model.request.strength)): Enter generates")
    case "open", "rerun", "vary-seed":
        guard items.indices.contains(model.gallerySelection) else { return [] }
        let item = items[model.gallerySelection]
        if let r = item.request {
            let model0 = model.request.model
            model.request = r
            model.request.model = model0
            model.prompt = LineEditor(r.prompt)
            model.negative = LineEditor(r.negativePrompt)
        } else {
            model.prompt = LineEditor(item.prompt)
        }
        model.image = item.image
        model.imagePath = item.path
        model.showGallery = false
        model.focus = .prompt
        model.status = .idle("Loaded " + item.path)
        if action == "rerun" { return generateNow(&model) }
        if action == "vary-seed" { model.request.seed += 1; return generateNow(&model) }
    default: break
    }
    return []
}

/// Typing a CLIP search: Enter asks the runtime to rank the gallery by it, Escape drops it.
func searchKey(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    switch key {
    case .enter:
        model.editingSearch = false
        let query = model.searchQuery.string.trimmingCharacters(in: .whitespaces)
        guard !query.isEmpty else { return [] }
        model.status = .idle("Searching with CLIP…")
        return [.searchGallery(query)]
    case .escape: model.editingSearch = false
    default: editInline(key, &model.searchQuery, keymap: model.keymap)
    }
    return []
}

/// Typing the gallery filter: characters and the editing keys change it, Enter keeps it, Escape clears it.
func filterKey(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    switch key {
    case .enter: model.editingFilter = false
    case .escape:
        model.editingFilter = false
        model.galleryFilter = LineEditor()
    default: editInline(key, &model.galleryFilter, keymap: model.keymap)
    }
    model.gallerySelection = min(model.gallerySelection, max(0, model.visibleGallery.count - 1))
    return []
}

/// A one-line field typed inside the gallery (filter, CLIP search): characters, Backspace, Left/Right, and the
/// prompt's word and line kills.
func editInline(_ key: Key, _ field: inout LineEditor, keymap: Keymap) {
    switch key {
    case .backspace: field.backspace()
    case .left: field.left()
    case .right: field.right()
    case let .char(c): field.insert(String(c))
    default:
        switch keymap.action(for: key, in: "prompt") {
        case "delete-word": field.deleteWordBefore()
        case "delete-to-start": field.deleteToStart()
        default: break
        }
    }
}

/// The mask painter: arrows move the brush, space lifts/lowers the pen, e toggles the eraser, +/- size, i inverts,
/// c clears; Enter saves NAME.mask.png and inpaints the image with the prompt in the editor; Escape leaves.
func painterKey(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    guard var p = model.painter else { return [] }
    defer { if model.painter != nil { model.painter = p } }
    switch model.keymap.action(for: key, in: "painter") {
    case "quit": return model.running ? [.cancel, .quit] : [.quit]
    case "help": model.showHelp = true
    case "left", "previous-item": p.move(-1, 0)
    case "right", "next-item": p.move(1, 0)
    case "up", "row-up": p.move(0, -1)
    case "down", "row-down": p.move(0, 1)
    case "pen": p.penDown.toggle(); if p.penDown { p.stamp() }
    case "eraser": p.erasing.toggle()
    case "brush-bigger": p.radius = min(p.image.width / 2, p.radius + 1)
    case "brush-smaller": p.radius = max(1, p.radius - 1)
    case "invert-mask": p.invert()
    case "clear-mask": p.clear()
    case "rectangle": p.rectangle()
    case "load-mask": return [.loadMask(path: p.maskPath, quiet: false)]
    case "cancel", "gallery":
        if p.rectangleAnchor != nil { p.rectangleAnchor = nil } else { model.painter = nil }
    case "inpaint":
        guard !p.isEmpty else { model.status = .failed("The mask is empty: paint the part to repaint"); return [] }
        guard !model.prompt.string.trimmingCharacters(in: .whitespaces).isEmpty else { model.status = .failed("The prompt is empty"); return [] }
        model.painter = nil
        model.showGallery = false
        model.request.initImage = p.imagePath
        model.request.mask = p.maskPath
        model.request.strength = 1
        (model.request.width, model.request.height) = (p.image.width, p.image.height)
        model.image = p.preview
        let effects = generateNow(&model)
        model.request.initImage = nil
        model.request.mask = nil
        return [.saveMask(path: p.maskPath, mask: p.maskCanvas)] + effects
    default: break
    }
    return []
}

/// Typing a value for the selected numeric parameter: digits (and "." for CFG and strength) build it, Backspace edits,
/// Enter applies it, Escape drops it; any other key applies it and then does its usual work (returns nil).
func typeValue(_ key: Key, _ model: inout StudioModel) -> [Effect]? {
    guard StudioModel.typable.contains(model.selectedParam) else { return nil }
    let decimals = model.selectedParam == .cfg || model.selectedParam == .strength || model.selectedParam == .clipGuidance
    switch key {
    case let .char(c) where c.isASCII && (c.isNumber || (decimals && c == ".")):
        let next = (model.typedValue ?? "") + String(c)
        if next.count <= 12 { model.typedValue = next }
        return []
    case .backspace where model.typedValue != nil:
        model.typedValue = String(model.typedValue!.dropLast())
        return []
    case .escape where model.typedValue != nil:
        model.typedValue = nil
        return []
    case .enter where model.typedValue != nil:
        applyTypedValue(&model)
        return []
    default:
        if model.typedValue != nil { applyTypedValue(&model) }
        return nil
    }
}

func applyTypedValue(_ model: inout StudioModel) {
    defer { model.typedValue = nil }
    guard let text = model.typedValue, !text.isEmpty else { return }
    switch model.selectedParam {
    case .steps: if let v = Int(text) { model.request.steps = min(150, max(1, v)) }
    case .cfg: if let v = Float(text) { model.request.cfgScale = min(30, max(1, v)) }
    case .seed: if let v = UInt64(text) { model.request.seed = v }
    case .batch: if let v = Int(text) { model.batchCount = min(64, max(1, v)) }
    case .strength: if let v = Float(text), model.request.initImage != nil { model.request.strength = min(1, max(0.05, v)) }
    case .clipGuidance: if let v = Float(text) { model.request.clipGuidanceScale = min(5000, max(0, v)) }
    default: break
    }
}

/// Starts a generation from the editors as the generate action does.
func generateNow(_ model: inout StudioModel) -> [Effect] {
    guard !model.running else { return [] }
    var request = model.request
    request.prompt = model.prompt.string
    request.negativePrompt = model.negative.string
    guard !request.prompt.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
    model.status = .generating(step: 0, steps: request.steps, seconds: 0)
    model.historyIndex = nil
    if model.history.last == request.prompt { return [.generate(request)] }
    model.history.append(request.prompt)
    return [.generate(request), .remember(request.prompt)]
}

/// Thumbnails per gallery row (18 columns each).
public func galleryColumns(width: Int) -> Int { max(1, (width - 2) / 18) }

func editor(_ model: inout StudioModel, _ change: (inout LineEditor) -> Void) {
    switch model.focus {
    case .prompt: change(&model.prompt)
    case .negative: change(&model.negative)
    case .params: break
    }
}

/// The element `delta` places after `current` in `all`, wrapping around (the first element if `current` is absent).
func cycled<T: Equatable>(_ all: [T], from current: T, by delta: Int) -> T {
    let i = all.firstIndex(of: current) ?? 0
    return all[((i + delta) % all.count + all.count) % all.count]
}

func adjust(_ model: inout StudioModel, by delta: Int) -> [Effect] {
    switch model.selectedParam {
    case .steps: model.request.steps = min(150, max(1, model.request.steps + delta))
    case .cfg: model.request.cfgScale = min(30, max(1, model.request.cfgScale + 0.5 * Float(delta)))
    case .seed: model.request.seed = delta < 0 && model.request.seed == 0 ? 0 : UInt64(Int64(model.request.seed) + Int64(delta))
    case .seedMode: model.seedMode = cycled(StudioModel.SeedMode.allCases, from: model.seedMode, by: delta)
    case .sampler: model.request.sampler = cycled(SamplerKind.allCases.map(\.rawValue), from: model.request.sampler, by: delta)
    case .schedule: model.request.schedule = cycled(SigmaSchedule.allCases.map(\.rawValue), from: model.request.schedule, by: delta)
    case .size:
        let sizes = StudioModel.sizes
        let i = sizes.firstIndex { $0 == (model.request.width, model.request.height) } ?? 0
        (model.request.width, model.request.height) = sizes[(i + delta + sizes.count) % sizes.count]
    case .batch: model.batchCount = min(64, max(1, model.batchCount + delta))
    case .source:
        // Back to text-to-image (a starting image is chosen in the gallery with i).
        if model.request.initImage != nil {
            model.request.initImage = nil
            model.status = .idle("Text to image")
        }
    case .strength:
        guard model.request.initImage != nil else { return [] }
        model.request.strength = min(1, max(0.05, ((model.request.strength + 0.05 * Float(delta)) * 20).rounded() / 20))
    case .clipGuidance:
        // Steps of 50 from off (0) to 5000 (CLIP-guided diffusers pipeline default: 100).
        model.request.clipGuidanceScale = min(5000, max(0, ((model.request.clipGuidanceScale / 50).rounded() + Float(delta)) * 50))
    case .layout: model.request.layout = cycled(GenerationRequest.layoutNames, from: model.request.layout, by: delta)
    case .model:
        guard !model.models.isEmpty, !model.running, !model.loadingModel else { return [] }
        let next = cycled(model.models, from: model.modelPath, by: delta)
        guard next != model.modelPath else { return [] }
        model.loadingModel = true
        model.status = .idle("Loading " + (next as NSString).lastPathComponent + "…")
        return [.loadModel(next)]
    case .precision:
        if model.bf16Available {
            model.request.bf16.toggle()
        } else {
            model.status = .idle("bf16 needs a CPU with AMX or AVX-512-BF16; computing in fp32")
        }
    }
    return []
}

/// The mouse in the painter: press puts the pen down where it points, dragging paints along, release lifts it.
func painterMouse(_ event: MouseEvent, _ model: inout StudioModel) -> [Effect] {
    guard var p = model.painter else { return [] }
    let layout = painterLayout(p, width: model.width, height: model.height)
    let cx = event.column - layout.left, cy = event.row - layout.top
    guard event.kind == .release || (cx >= 0 && cy >= 0 && cx < layout.width && cy * 2 < layout.height) else { return [] }
    // A cell is one pixel column and two pixel rows of the fitted image.
    let px = (2 * cx + 1) * p.image.width / (2 * layout.width), py = (4 * cy + 2) * p.image.height / (2 * layout.height)
    switch event.kind {
    case .press:
        p.x = min(p.image.width - 1, max(0, px))
        p.y = min(p.image.height - 1, max(0, py))
        p.penDown = true
        p.stamp()
    case .drag:
        if !p.penDown { p.penDown = true }
        p.drag(to: px, py)
    case .release:
        p.penDown = false
    }
    model.painter = p
    return []
}
