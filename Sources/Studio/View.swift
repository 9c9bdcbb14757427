import Foundation
import Pipeline
import Samplers
import TerminalGraphics

/// A full frame: width × height cells, and where the text cursor goes (nil = hidden).
public struct Screen: Equatable {
    public let width: Int, height: Int
    public var cells: [[Cell]]
    public var cursor: (row: Int, column: Int)?
    /// With sixel or kitty graphics: the picture to show over these cells (left blank by the view), in pixels.
    public var image: ImagePlacement?

    public init(width: Int, height: Int) {
        (self.width, self.height) = (width, height)
        cells = [[Cell]](repeating: [Cell](repeating: .blank, count: width), count: height)
    }

    public static func == (a: Screen, b: Screen) -> Bool {
        a.cells == b.cells && a.cursor?.row == b.cursor?.row && a.cursor?.column == b.cursor?.column && a.image == b.image
    }

    /// Writes text at (row, column), clipped to the screen and to `maxWidth`.
    public mutating func put(_ text: String, row: Int, column: Int, style: Cell.Style = .plain, maxWidth: Int? = nil) {
        guard row >= 0 && row < height else { return }
        var c = column
        let limit = min(width, column + (maxWidth ?? width))
        for ch in text where c < limit {
            if c >= 0 { cells[row][c] = Cell(ch, style: style) }
            c += 1
        }
    }

    /// The last row: "KEY label · …" for each (action, label) bound in the context (its first key), dimmed.
    mutating func putFooter(_ hints: [(action: String, label: String)], keymap: Keymap, context: String) {
        let footer = hints.compactMap { hint in keymap.keys(for: hint.action, in: context).first.map { "\($0) \(hint.label)" } }
        put(String(repeating: " ", count: width), row: height - 1, column: 0)
        put(" " + footer.joined(separator: " · "), row: height - 1, column: 0, style: .dim, maxWidth: width)
    }

    /// The screen's text, one line per row (trailing spaces kept): what tests and tmux see.
    public var text: String { cells.map { String($0.map(\.character)) }.joined(separator: "\n") }
}

/// A picture placed on the screen: its top-left cell, the cells it covers, its pixels.
public struct ImagePlacement: Equatable, Sendable {
    public var row: Int, column: Int, columns: Int, rows: Int
    public var canvas: Canvas
}

extension Screen {
    /// Draws `canvas` (already fitted to the cells: one pixel column and two pixel rows per cell) as half-block cells
    /// from (row, column), clipped above `maxRow` and at the right edge.
    mutating func drawHalfBlocks(_ canvas: Canvas, row: Int, column: Int, maxRow: Int, depth: ColorDepth) {
        let cells = HalfBlockRenderer(depth: depth).render(canvas)
        for (i, line) in cells.enumerated() where row + i < maxRow {
            for (j, cell) in line.enumerated() where column + j < width { self.cells[row + i][column + j] = cell }
        }
    }
}

/// Draws the model: title, prompt editors with token count, parameters, status/progress, the image pane
/// (half-block cells, or a sixel/kitty placement), a footer of key hints for the focused area, and the help overlay.
public func view(_ model: StudioModel, depth: ColorDepth = .truecolor, graphics: GraphicsMode = .halfblocks) -> Screen {
    var screen = Screen(width: model.width, height: model.height)
    let w = model.width, h = model.height
    guard w >= 40 && h >= 12 else {
        screen.put("Terminal too small: \(w)×\(h) (need 80×24)", row: 0, column: 0)
        return screen
    }
    screen.put(String(repeating: " ", count: w), row: 0, column: 0, style: .reverse)
    screen.put(" phosphor studio — \(model.modelName)", row: 0, column: 0, style: .reverse)

    // Image pane on the right: as wide as half the screen, as tall as the body.
    let paneWidth = min(w / 2, (h - 3) * 2)
    let left = w - paneWidth - 1
    var row = 2
    func section(_ title: String, focused: Bool) {
        screen.put(title, row: row, column: 1, style: focused ? .reverse : .bold, maxWidth: left - 1)
        row += 1
    }
    func editorBlock(_ editor: LineEditor, lines: Int, focused: Bool) {
        let wrapped = editor.wrapped(width: max(1, left - 3))
        let first = max(0, wrapped.cursorRow - lines + 1)
        for (i, line) in wrapped.lines.dropFirst(first).prefix(lines).enumerated() {
            screen.put(line, row: row + i, column: 2, maxWidth: left - 3)
        }
        if focused { screen.cursor = (row + wrapped.cursorRow - first, 2 + wrapped.cursorColumn) }
        row += lines + 1
    }
    let count = model.tokenCount.map { " \($0.used)/\($0.capacity)" } ?? ""
    section("Prompt" + count, focused: model.focus == .prompt)
    editorBlock(model.prompt, lines: 3, focused: model.focus == .prompt)
    section("Negative prompt", focused: model.focus == .negative)
    editorBlock(model.negative, lines: 1, focused: model.focus == .negative)
    section("Parameters", focused: model.focus == .params)
    // As many parameters as fit, scrolled to keep the selected one in view.
    let params = StudioModel.Param.allCases
    let fit = max(1, h - 4 - row)
    let selectedIndex = params.firstIndex(of: model.selectedParam) ?? 0
    let firstParam = max(0, min(selectedIndex - fit + 1, params.count - fit))
    for param in params.dropFirst(firstParam) where row < h - 4 {
        let selected = model.focus == .params && param == model.selectedParam
        let label = (model.paramLabels[param] ?? param.rawValue).padding(toLength: 14, withPad: " ", startingAt: 0)
        screen.put((selected ? "▸ " : "  ") + label + (selected ? "◂ \(model.value(of: param)) ▸" : "  \(model.value(of: param))"),
                   row: row, column: 1, style: selected ? .bold : .plain, maxWidth: left - 1)
        row += 1
    }

    // Status line above the footer.
    let status: String
    switch model.status {
    case let .idle(text): status = text
    case let .generating(step, steps, seconds):
        let barWidth = max(4, min(24, left - 30))
        let filled = steps > 0 ? barWidth * step / steps : 0
        let rate = seconds > 0 ? Double(step) / seconds : 0
        let eta = rate > 0 ? Double(steps - step) / rate : 0
        status = String(repeating: "█", count: filled) + String(repeating: "·", count: barWidth - filled)
            + " \(step)/\(steps)  " + format(rate) + " it/s  ETA " + format(eta, digits: 0) + " s"
    case let .done(path, seconds): status = "Done in " + format(seconds) + " s: " + path
    case let .failed(text): status = "Error: " + text
    }
    screen.put(status, row: h - 2, column: 1, style: model.status.isFailure ? .bold : .plain, maxWidth: w - 2)

    // Image.
    if let image = model.image {
        let size = image.fittedSize(maxWidth: paneWidth, maxHeight: (h - 4) * 2)
        // Pixel protocols get the full-resolution picture; the terminal scales it (kitty) or the runtime does (sixel).
        let shown = graphics == .halfblocks ? image.resized(width: size.width, height: size.height) : image
        if graphics == .halfblocks {
            screen.drawHalfBlocks(shown, row: 1, column: left + 1, maxRow: h - 2, depth: depth)
        } else {
            screen.image = ImagePlacement(row: 1, column: left + 1, columns: size.width, rows: min((size.height + 1) / 2, h - 3), canvas: shown)
        }
    } else {
        screen.put("(no image yet)", row: h / 2, column: left + max(1, (paneWidth - 14) / 2))
    }

    // Footer: key hints for the focused area.
    let context = model.focus == .params ? "params" : "prompt"
    let hints: [(String, String)] = model.running
        ? [("cancel", "cancel"), ("quit", "quit")]
        : (model.focus == .params ? [("decrease", "−"), ("increase", "+"), ("next-param", "next"), ("seed-mode", "seed mode")] : [])
            + [("generate", "generate"), ("next-field", "next field"), ("help", "help"), ("quit", "quit")]
    screen.putFooter(hints, keymap: model.keymap, context: context)

    if model.showGallery { screen.image = nil; drawGallery(&screen, model, depth: depth) }
    if let painter = model.painter { screen.image = nil; drawPainter(&screen, painter, model: model, depth: depth, graphics: graphics) }
    if model.showHelp { screen.image = nil; drawHelp(&screen, model.keymap) }
    return screen
}

/// The gallery: a grid of 16×8-cell thumbnails (16×16 pixels) with prompt excerpts, the selection's full prompt
/// and path below, key hints in the footer.
func drawGallery(_ screen: inout Screen, _ model: StudioModel, depth: ColorDepth) {
    let (w, h) = (screen.width, screen.height)
    for r in 1..<(h - 1) { screen.put(String(repeating: " ", count: w), row: r, column: 0) }
    screen.cursor = nil
    let items = model.visibleGallery
    let filter = model.galleryFilter.string
    let lead = " Gallery: \(items.count) of \(model.gallery.count) images with \""
    let order = model.galleryRankedBy.map { "ranked by CLIP similarity to \"\($0)\"" } ?? "newest first"
    var heading = filter.isEmpty && !model.editingFilter
        ? " Gallery: \(model.gallery.count) images, \(order)"
        : lead + filter + "\"" + (model.editingFilter ? " (typing; Enter keeps, Esc clears)" : "")
    if model.editingSearch { heading = " CLIP search: " + model.searchQuery.string + "  (Enter ranks the gallery, Esc drops it)" }
    screen.put(heading, row: 1, column: 0, style: .bold)
    if model.editingFilter { screen.cursor = (1, min(w - 1, lead.count + model.galleryFilter.cursor)) }
    if model.editingSearch { screen.cursor = (1, min(w - 1, 14 + model.searchQuery.cursor)) }
    let columns = galleryColumns(width: w)
    let rowsVisible = max(1, (h - 6) / 10)
    let selectedRow = model.gallerySelection / columns
    let firstRow = max(0, selectedRow - rowsVisible + 1)
    let renderer = HalfBlockRenderer(depth: depth)
    for (i, item) in items.enumerated() {
        let gridRow = i / columns - firstRow
        guard gridRow >= 0 && gridRow < rowsVisible else { continue }
        let top = 2 + gridRow * 10, left = 1 + (i % columns) * 18
        let thumb = renderer.render(item.thumbnail)
        for (y, line) in thumb.enumerated() where top + y < h - 3 {
            for (x, cell) in line.enumerated() where left + x < w { screen.cells[top + y][left + x] = cell }
        }
        let selected = i == model.gallerySelection
        screen.put(String(item.prompt.prefix(16)), row: top + 8, column: left, style: selected ? .reverse : .dim, maxWidth: 16)
    }
    if model.gallery.isEmpty { screen.put("No images yet: generate one (Esc returns).", row: 3, column: 2) }
    else if items.isEmpty { screen.put("No prompt contains \"\(filter)\" (Esc clears the filter).", row: 3, column: 2) }
    if items.indices.contains(model.gallerySelection) {
        let item = items[model.gallerySelection]
        let line = model.confirmTrash ? "Move \(item.path) to .trash? y = yes, any other key = no" : item.prompt + (item.clipScore.map { String(format: "  CLIP %.1f", $0) } ?? "") + "  (" + item.path + ")"
        screen.put(line, row: h - 2, column: 1, style: model.confirmTrash ? .bold : .plain, maxWidth: w - 2)
    }
    let hints = [("open", "open"), ("details", "details"), ("rerun", "re-run"), ("vary-seed", "vary seed"), ("img2img", "img2img"),
                 ("paint-mask", "mask"), ("filter", "filter"), ("search", "CLIP search"), ("trash", "trash"), ("gallery", "back"), ("quit", "quit")]
    screen.putFooter(hints, keymap: model.keymap, context: "gallery")
    if model.showDetails, items.indices.contains(model.gallerySelection) { drawDetails(&screen, items[model.gallerySelection], depth: depth) }
}

/// One gallery image large, with its full metadata (A1111's parameters text, the file, the size).
func drawDetails(_ screen: inout Screen, _ item: GalleryItem, depth: ColorDepth) {
    let (w, h) = (screen.width, screen.height)
    for r in 1..<(h - 1) { screen.put(String(repeating: " ", count: w), row: r, column: 0) }
    let size = item.image.fittedSize(maxWidth: w / 2, maxHeight: (h - 4) * 2)
    screen.drawHalfBlocks(item.image.resized(width: size.width, height: size.height), row: 2, column: 1, maxRow: h - 2, depth: depth)
    var text = "\(item.path)\n\(item.image.width)×\(item.image.height)" + (item.clipScore.map { String(format: ", CLIP score %.2f", $0) } ?? "") + "\n\n"
    if let r = item.request {
        let sampler = SamplerKind(rawValue: r.sampler)?.displayName ?? r.sampler
        text += r.a1111Parameters(samplerName: sampler, modelName: (r.model as NSString).lastPathComponent)
        if let initImage = r.initImage { text += "\nStarted from: \(initImage)" + (r.mask.map { "\nMask: \($0)" } ?? "") }
    } else {
        text += item.prompt + "\n(not made by phosphor: no request stored)"
    }
    let left = size.width + 3, width = max(10, w - left - 1)
    var row = 2
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) where row < h - 2 {
        for line in LineEditor(String(paragraph)).wrapped(width: width).lines where row < h - 2 {
            screen.put(line, row: row, column: left, maxWidth: width)
            row += 1
        }
    }
    screen.put(" any key returns to the gallery", row: h - 1, column: 0, style: .dim, maxWidth: w)
}

/// The painter: the image with its tinted mask and brush as large as the screen allows, and its state.
func drawPainter(_ screen: inout Screen, _ p: MaskPainter, model: StudioModel, depth: ColorDepth, graphics: GraphicsMode) {
    let (w, h) = (screen.width, screen.height)
    for r in 1..<(h - 1) { screen.put(String(repeating: " ", count: w), row: r, column: 0) }
    screen.cursor = nil
    let layout = painterLayout(p, width: w, height: h)
    if graphics == .halfblocks {
        screen.drawHalfBlocks(p.preview.resized(width: layout.width, height: layout.height), row: layout.top, column: layout.left,
                              maxRow: h - 2, depth: depth)
    } else {
        screen.image = ImagePlacement(row: layout.top, column: layout.left, columns: layout.width,
                                      rows: min((layout.height + 1) / 2, h - 2 - layout.top), canvas: p.preview)
    }
    let state = "Mask for \((p.imagePath as NSString).lastPathComponent): brush \(p.radius) px, pen \(p.penDown ? "down" : "up")"
        + (p.erasing ? ", erasing" : "") + (p.rectangleAnchor != nil ? ", rectangle: move to the other corner" : "")
        + " — prompt: " + model.prompt.string
    screen.put(state, row: 1, column: 1, style: .bold, maxWidth: w - 2)
    let hints = [("pen", "pen"), ("eraser", "eraser"), ("rectangle", "rect"), ("brush-bigger", "bigger"), ("brush-smaller", "smaller"),
                 ("invert-mask", "invert"), ("clear-mask", "clear"), ("load-mask", "load"), ("inpaint", "inpaint"), ("cancel", "back")]
    screen.putFooter(hints, keymap: model.keymap, context: "painter")
}

/// Where the painter draws its image: cells from (top, left), `width` columns and `height` pixel rows (two per cell),
/// the image fitted to the screen. The mouse maps back through the same layout.
public func painterLayout(_ p: MaskPainter, width w: Int, height h: Int) -> (left: Int, top: Int, width: Int, height: Int) {
    let size = p.image.fittedSize(maxWidth: w - 2, maxHeight: (h - 4) * 2)
    return (max(0, (w - size.width) / 2), 2, size.width, size.height)
}

func drawHelp(_ screen: inout Screen, _ keymap: Keymap) {
    let lines = ["Keys (assets/keymap; ~/.config/phosphor/keymap overrides)", ""]
        + keymap.bindings.map { "\($0.context.padding(toLength: 7, withPad: " ", startingAt: 0)) \($0.key.padding(toLength: 10, withPad: " ", startingAt: 0)) \($0.action)" }
        + ["", "any key closes this"]
    let boxWidth = min(screen.width - 4, 60), boxHeight = min(screen.height - 2, lines.count + 2)
    let top = (screen.height - boxHeight) / 2, leftEdge = (screen.width - boxWidth) / 2
    for r in 0..<boxHeight {
        let border = r == 0 || r == boxHeight - 1
        screen.put(border ? "+" + String(repeating: "-", count: boxWidth - 2) + "+" : "|" + String(repeating: " ", count: boxWidth - 2) + "|",
                   row: top + r, column: leftEdge)
    }
    for (i, line) in lines.prefix(boxHeight - 2).enumerated() {
        screen.put(line, row: top + 1 + i, column: leftEdge + 2, maxWidth: boxWidth - 4)
    }
    screen.cursor = nil
}

func format(_ value: Double, digits: Int = 1) -> String {
    guard value.isFinite else { return "–" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return digits == 0 ? String(Int(rounded)) : String(rounded)
}

extension StudioModel.Status {
    var isFailure: Bool { if case .failed = self { return true } else { return false } }
}
