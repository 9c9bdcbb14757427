/// A text editor with readline-style movement and kills, and undo/redo (pure value type). Lines are separated by
/// "\n" (alt-enter inserts one); line-start/line-end and the kills to either end work on the cursor's line.
public struct LineEditor: Equatable, Sendable {
    public private(set) var text: [Character] = []
    public private(set) var cursor = 0
    var undoStack: [([Character], Int)] = []
    var redoStack: [([Character], Int)] = []

    public init(_ string: String = "") {
        text = Array(string)
        cursor = text.count
    }

    public var string: String { String(text) }

    mutating func edit(_ change: (inout [Character], inout Int) -> Void) {
        let before = (text, cursor)
        change(&text, &cursor)
        if text != before.0 {
            undoStack.append(before)
            if undoStack.count > 200 { undoStack.removeFirst() }
            redoStack = []
        }
    }

    public mutating func insert(_ s: String) { edit { t, c in t.insert(contentsOf: s, at: c); c += s.count } }
    public mutating func backspace() { edit { t, c in if c > 0 { t.remove(at: c - 1); c -= 1 } } }
    public mutating func deleteForward() { edit { t, c in if c < t.count { t.remove(at: c) } } }
    public mutating func left() { cursor = max(0, cursor - 1) }
    public mutating func right() { cursor = min(text.count, cursor + 1) }
    public mutating func lineStart() { cursor = lineBounds.start }
    public mutating func lineEnd() { cursor = lineBounds.end }

    func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber }

    /// Alt-B: to the start of this or the previous word.
    public mutating func wordLeft() {
        var c = cursor
        while c > 0 && !isWord(text[c - 1]) { c -= 1 }
        while c > 0 && isWord(text[c - 1]) { c -= 1 }
        cursor = c
    }

    /// Alt-F: to the end of this or the next word.
    public mutating func wordRight() {
        var c = cursor
        while c < text.count && !isWord(text[c]) { c += 1 }
        while c < text.count && isWord(text[c]) { c += 1 }
        cursor = c
    }

    /// Ctrl-W: delete the whitespace-separated word before the cursor (readline's unix-word-rubout).
    public mutating func deleteWordBefore() {
        edit { t, c in
            var s = c
            while s > 0 && t[s - 1] == " " { s -= 1 }
            while s > 0 && t[s - 1] != " " { s -= 1 }
            t.removeSubrange(s..<c)
            c = s
        }
    }

    /// Ctrl-U / Ctrl-K.
    public mutating func deleteToStart() {
        let start = lineBounds.start
        edit { t, c in t.removeSubrange(start..<c); c = start }
    }
    public mutating func deleteToEnd() {
        let end = lineBounds.end
        edit { t, c in t.removeSubrange(c..<end) }
    }

    public mutating func undo() {
        guard let last = undoStack.popLast() else { return }
        redoStack.append((text, cursor))
        (text, cursor) = last
    }

    public mutating func redo() {
        guard let next = redoStack.popLast() else { return }
        undoStack.append((text, cursor))
        (text, cursor) = next
    }

    public static func == (a: LineEditor, b: LineEditor) -> Bool { a.text == b.text && a.cursor == b.cursor }

    /// The text wrapped to `width` columns (hard breaks at "\n", soft ones at spaces where possible), and the
    /// cursor's (row, column).
    public func wrapped(width: Int) -> (lines: [String], cursorRow: Int, cursorColumn: Int) {
        precondition(width > 0)
        var lines: [String] = [], starts: [Int] = []
        var start = 0
        while true {
            let lineEnd = text[start...].firstIndex(of: "\n") ?? text.count
            var end = min(start + width, lineEnd)
            if end < lineEnd, let space = text[start..<end].lastIndex(of: " "), space > start { end = space + 1 }
            starts.append(start)
            lines.append(String(text[start..<end]))
            if end == lineEnd {
                guard lineEnd < text.count else { break }
                start = lineEnd + 1      // past the newline: a new row
            } else {
                start = end
            }
        }
        var row = starts.lastIndex { $0 <= cursor } ?? 0
        var column = cursor - starts[row]
        if column >= width { row += 1; column = 0; if row == lines.count { lines.append("") } }
        return (lines, row, column)
    }

    /// The start and end of the cursor's line.
    var lineBounds: (start: Int, end: Int) {
        let start = text[..<cursor].lastIndex(of: "\n").map { $0 + 1 } ?? 0
        let end = text[cursor...].firstIndex(of: "\n") ?? text.count
        return (start, end)
    }
}
