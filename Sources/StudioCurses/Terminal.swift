import CNCurses
import Foundation
import Studio
import TerminalGraphics

/// The only code that talks to ncurses: terminal set-up, keys in, screens out (only changed cells are redrawn).
public final class Terminal {
    public private(set) var width: Int
    public private(set) var height: Int
    public let depth: ColorDepth
    var drawn: Screen?

    // ncurses attribute bits (NCURSES_BITS(1, n) = 1 << (n + 8)); the C macros are not visible to Swift.
    static let reverse: attr_t = 1 << 18, dim: attr_t = 1 << 20, bold: attr_t = 1 << 21

    /// `depth` nil: truecolor where the terminal has direct colour (COLORS ≥ 2^24), else 256 colours.
    public init(depth: ColorDepth? = nil) {
        Terminal.watchHangUp()
        setlocale(LC_ALL, "")
        initscr()
        raw()
        noecho()
        keypad(stdscr, true)
        nonl()
        if has_colors() {
            start_color()
            use_default_colors()
        }
        set_escdelay(25)
        wtimeout(stdscr, 50)
        // Mouse: presses, releases and (xterm button-event tracking, 1002) motion while a button is held.
        mousemask(phosphor_mouse_mask(), nil)
        mouseinterval(0)
        FileHandle.standardOutput.write(Data("\u{1B}[?1002h".utf8))
        width = Int(COLS)
        height = Int(LINES)
        self.depth = depth ?? (COLORS >= 0x100_0000 ? .truecolor : .palette256)
    }

    public func close() {
        FileHandle.standardOutput.write(Data("\u{1B}[?1002l".utf8))
        endwin()
    }

    /// False once the terminal is gone (hang-up, closed pty): the loop must end rather than spin on read errors.
    public var isAlive: Bool {
        var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, 0) >= 0 else { return true }
        return fds.revents & Int16(POLLHUP | POLLERR | POLLNVAL) == 0 && !Terminal.hungUp.value
    }

    static let hungUp = HangUp()

    /// Installs a SIGHUP handler that marks the terminal as gone.
    static func watchHangUp() {
        signal(SIGHUP) { _ in Terminal.hungUp.markFromSignal() }
    }

    /// A key, a resize, or nil when nothing came within 50 ms.
    public func read() -> Message? {
        var ch: wint_t = 0
        let kind = get_wch(&ch)
        if kind == ERR { return nil }
        if kind == KEY_CODE_YES {
            switch Int32(ch) {
            case phosphor_key_mouse():
                var event = MEVENT()
                guard getmouse(&event) == OK else { return nil }
                let kind: MouseEvent.Kind
                if event.bstate & phosphor_button1_pressed() != 0 { kind = .press }
                else if event.bstate & phosphor_button1_released() != 0 { kind = .release }
                else if event.bstate & phosphor_mouse_motion() != 0 { kind = .drag }
                else { return nil }
                return .mouse(MouseEvent(row: Int(event.y), column: Int(event.x), kind: kind))
            case KEY_RESIZE:
                width = Int(COLS); height = Int(LINES); drawn = nil
                return .resize(width: width, height: height)
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_DC: return .key(.delete)
            case KEY_BACKSPACE: return .key(.backspace)
            case KEY_BTAB: return .key(.backTab)
            case KEY_ENTER: return .key(.enter)
            case KEY_F0 + 1...KEY_F0 + 12: return .key(.function(Int(Int32(ch) - KEY_F0)))
            default: return nil
            }
        }
        switch ch {
        case 27:
            // Alt-x arrives as ESC x; a lone ESC is Escape.
            wtimeout(stdscr, 25)
            defer { wtimeout(stdscr, 50) }
            var next: wint_t = 0
            if get_wch(&next) == OK, let scalar = Unicode.Scalar(UInt32(next)), next >= 32 { return .key(.alt(Character(scalar))) }
            return .key(.escape)
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 8, 127: return .key(.backspace)
        case 1...26: return .key(.ctrl(Character(Unicode.Scalar(UInt8(ch) + 96))))
        default:
            guard let scalar = Unicode.Scalar(UInt32(ch)) else { return nil }
            return .key(.char(Character(scalar)))
        }
    }

    /// Draws the cells that differ from the last frame, then places (or hides) the cursor.
    public func draw(_ screen: Screen) {
        let full = drawn == nil || drawn!.width != screen.width || drawn!.height != screen.height
        if full { werase(stdscr) }
        for r in 0..<min(screen.height, height) {
            for c in 0..<min(screen.width, width) {
                let cell = screen.cells[r][c]
                if !full, drawn!.cells[r][c] == cell { continue }
                put(cell, row: r, column: c)
            }
        }
        if let cursor = screen.cursor {
            curs_set(1)
            wmove(stdscr, Int32(cursor.row), Int32(cursor.column))
        } else {
            curs_set(0)
        }
        wrefresh(stdscr)
        drawn = screen
    }

    func put(_ cell: Cell, row: Int, column: Int) {
        var attributes: attr_t = 0
        switch cell.style {
        case .plain: break
        case .bold: attributes = Self.bold
        case .reverse: attributes = Self.reverse
        case .dim: attributes = Self.dim
        }
        var pair = Int32(0)
        if cell.foreground != .terminalDefault || cell.background != .terminalDefault {
            pair = alloc_pair(number(cell.foreground), number(cell.background))
            if pair < 0 { pair = 0 }
        }
        var wide = Array(String(cell.character).unicodeScalars.map { wchar_t(bitPattern: $0.value) }) + [0]
        var cc = cchar_t()
        let shortPair = Int16(truncatingIfNeeded: min(pair, 32767))
        withUnsafeMutablePointer(to: &pair) { p in
            _ = setcchar(&cc, &wide, attributes, shortPair, UnsafeMutableRawPointer(p))
        }
        _ = mvadd_wch(Int32(row), Int32(column), &cc)
    }

    /// The colour number ncurses takes: -1 default, a palette index, or 0xRRGGBB on direct-colour terminals.
    func number(_ color: TerminalColor) -> Int32 {
        switch color {
        case .terminalDefault: -1
        case let .palette(i): Int32(i)
        case let .rgb(p):
            depth == .truecolor && COLORS >= 0x100_0000
                ? Int32(p.r) << 16 | Int32(p.g) << 8 | Int32(p.b)
                : Int32(HalfBlockRenderer.xterm256(p))
        }
    }
}

/// A flag set from a signal handler (a plain atomic-width store, read by the event loop).
final class HangUp: @unchecked Sendable {
    private let flag = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    init() { flag.pointee = 0 }
    func markFromSignal() { flag.pointee = 1 }
    var value: Bool { flag.pointee != 0 }
}
