/// A key as the studio sees it (StudioCurses turns terminal input into these).
public enum Key: Hashable, Sendable {
    case char(Character), ctrl(Character), alt(Character)
    case enter, escape, tab, backTab, backspace, delete, up, down, left, right, home, end
    case function(Int)

    /// The name used in keymap files: "a", "ctrl-a", "alt-b", "enter", "space", …
    public var name: String {
        switch self {
        case let .char(c): c == " " ? "space" : String(c)
        case let .ctrl(c): "ctrl-\(c)"
        case let .alt(c): c == "\n" ? "alt-enter" : "alt-\(c)"
        case .enter: "enter"
        case .escape: "escape"
        case .tab: "tab"
        case .backTab: "backtab"
        case .backspace: "backspace"
        case .delete: "delete"
        case .up: "up"
        case .down: "down"
        case .left: "left"
        case .right: "right"
        case .home: "home"
        case .end: "end"
        case let .function(n): "f\(n)"
        }
    }
}

/// Keybindings as data (assets/keymap; a user file overrides entries): lines "CONTEXT KEY ACTION", `#` comments.
/// Contexts: global, prompt (both text fields), params, help, gallery, painter.
public struct Keymap: Equatable, Sendable {
    public struct Binding: Equatable, Sendable {
        public var context: String, key: String, action: String
    }
    public private(set) var bindings: [Binding] = []

    public static let actions: Set<String> = [
        "quit", "help", "next-field", "previous-field", "generate", "cancel", "left", "right", "line-start", "line-end",
        "word-left", "word-right", "backspace", "delete", "delete-word", "delete-to-start", "delete-to-end", "undo", "redo",
        "previous-param", "next-param", "decrease", "increase", "seed-mode",
        "history-previous", "history-next", "paint-mask", "pen", "eraser", "brush-bigger", "brush-smaller", "invert-mask",
        "clear-mask", "inpaint", "up", "down", "gallery", "previous-item", "next-item", "row-up", "row-down", "open", "rerun", "vary-seed", "trash", "confirm",
        "filter", "img2img", "rectangle", "load-mask", "newline", "details", "search",
    ]

    public init() {}

    /// Parses keymap text; unknown actions and malformed lines are errors naming the line.
    public init(parsing text: String, source: String) throws {
        try merge(text, source: source)
    }

    /// Adds (or overrides, for the same context and key) the bindings in `text`.
    public mutating func merge(_ text: String, source: String) throws {
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.isEmpty { continue }
            guard words.count == 3 else { throw KeymapError.malformed(source: source, line: i + 1, "expected CONTEXT KEY ACTION") }
            guard ["global", "prompt", "params", "help", "gallery", "painter"].contains(words[0]) else {
                throw KeymapError.malformed(source: source, line: i + 1, "unknown context '\(words[0])'")
            }
            guard Self.actions.contains(words[2]) else {
                throw KeymapError.malformed(source: source, line: i + 1, "unknown action '\(words[2])'")
            }
            bindings.removeAll { $0.context == words[0] && $0.key == words[1] }
            bindings.append(Binding(context: words[0], key: words[1], action: words[2]))
        }
    }

    /// The action for a key in a context, falling back to global bindings.
    public func action(for key: Key, in context: String) -> String? {
        let name = key.name
        return bindings.first { $0.context == context && $0.key == name }?.action
            ?? bindings.first { $0.context == "global" && $0.key == name }?.action
    }

    /// The keys bound to an action in a context (for hints and the help overlay).
    public func keys(for action: String, in context: String) -> [String] {
        bindings.filter { $0.action == action && $0.context == context }.map(\.key)
            + bindings.filter { $0.action == action && $0.context == "global" }.map(\.key)
    }
}

public enum KeymapError: Error, CustomStringConvertible, Equatable {
    case malformed(source: String, line: Int, String)
    public var description: String {
        switch self { case let .malformed(source, line, detail): "\(source):\(line): \(detail)" }
    }
}
