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
        return []
    case let .failed(text):
        model.status = .failed(text)
        return []
    case .cancelled:
        model.status = .idle("Cancelled")
        return []
    case let .tokenCount(used, capacity):
        model.tokenCount = (used, capacity)
        return []
    case let .galleryLoaded(items):
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
        let text = model.prompt.string.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { model.status = .failed("The prompt is empty"); return [] }
        if model.seedMode == .random { model.request.seed = model.nextRandomSeed() }
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
    case "decrease", "increase": adjust(&model, by: action == "increase" ? 1 : -1)
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
        case "redo": e.redo()
        default: break
        }
    }
    }
    return []
}

/// Gallery mode: move through the grid, open an image (its request into the editors, the image into the pane),
/// re-run it, or move it to the trash after a confirmation.
func galleryKey(_ key: Key, _ model: inout StudioModel) -> [Effect] {
    let action = model.keymap.action(for: key, in: "gallery")
    if model.confirmTrash {
        model.confirmTrash = false
        guard action == "confirm", model.gallery.indices.contains(model.gallerySelection) else { return [] }
        let path = model.gallery.remove(at: model.gallerySelection).path
        model.gallerySelection = min(model.gallerySelection, max(0, model.gallery.count - 1))
        if model.imagePath == path { model.image = nil; model.imagePath = nil }
        return [.trash(path)]
    }
    let columns = galleryColumns(width: model.width)
    let count = model.gallery.count
    switch action {
    case "quit": return model.running ? [.cancel, .quit] : [.quit]
    case "gallery", "cancel": model.showGallery = false
    case "help": model.showHelp = true
    case "previous-item": model.gallerySelection = max(0, model.gallerySelection - 1)
    case "next-item": model.gallerySelection = min(max(0, count - 1), model.gallerySelection + 1)
    case "row-up": model.gallerySelection = max(0, model.gallerySelection - columns)
    case "row-down": model.gallerySelection = min(max(0, count - 1), model.gallerySelection + columns)
    case "trash": if count > 0 { model.confirmTrash = true }
    case "paint-mask":
        guard model.gallery.indices.contains(model.gallerySelection) else { return [] }
        let item = model.gallery[model.gallerySelection]
        model.painter = MaskPainter(imagePath: item.path, image: item.image)
        if let r = item.request, model.prompt.string.isEmpty { model.prompt = LineEditor(r.prompt) }
    case "open", "rerun", "vary-seed":
        guard model.gallery.indices.contains(model.gallerySelection) else { return [] }
        let item = model.gallery[model.gallerySelection]
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
    case "cancel", "gallery": model.painter = nil
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

func adjust(_ model: inout StudioModel, by delta: Int) {
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
    }
}
