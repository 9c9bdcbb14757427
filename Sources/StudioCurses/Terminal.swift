import CNCurses
import Foundation
import Studio
import TerminalGraphics

/// The only code that talks to ncurses: terminal set-up, keys in, screens out (only changed cells are redrawn).
public final class Terminal {
    public private(set) var width: Int
    public private(set) var height: Int
    public let depth: ColorDepth
    /// Half-block cells, sixel or kitty graphics for the image pane.
    public let graphics: GraphicsMode
    var drawn: Screen?
    /// Pixels per cell (TIOCGWINSZ; 10×20 when the terminal does not say), for sizing sixel images.
    var cellPixels = (width: 10, height: 20)

    // ncurses attribute bits (NCURSES_BITS(1, n) = 1 << (n + 8)); the C macros are not visible to Swift.
    static let reverse: attr_t = 1 << 18, dim: attr_t = 1 << 20, bold: attr_t = 1 << 21

    /// `depth` nil: truecolor where the terminal has direct colour (COLORS ≥ 2^24), else 256 colours. `graphics` nil:
    /// detected (Terminal.detectGraphics) before ncurses takes the terminal.
    public init(depth: ColorDepth? = nil, graphics: GraphicsMode? = nil) {
        Terminal.watchHangUp()
        self.graphics = graphics ?? Terminal.detectGraphics()
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
        FileHandle.standardOutput.write(Data("\u{1B}[?1002h\u{1B}[?2004h".utf8))   // mouse motion; bracketed paste
        width = Int(COLS)
        height = Int(LINES)
        self.depth = depth ?? (COLORS >= 0x100_0000 ? .truecolor : .palette256)
        measureCells()
    }

    /// Which pixel protocol the terminal speaks: kitty's where the environment names a terminal that has it (kitty,
    /// WezTerm, Ghostty), sixel where the terminal's primary device attributes list feature 4; half-blocks otherwise,
    /// and always inside tmux/screen (which pass neither through reliably). `--graphics` overrides this.
    static func detectGraphics() -> GraphicsMode {
        let env = ProcessInfo.processInfo.environment
        if env["TMUX"] != nil || (env["TERM"] ?? "").hasPrefix("screen") || (env["TERM"] ?? "").hasPrefix("tmux") { return .halfblocks }
        if env["KITTY_WINDOW_ID"] != nil || (env["TERM"] ?? "").contains("kitty") || env["TERM_PROGRAM"] == "WezTerm"
            || env["TERM_PROGRAM"] == "ghostty" { return .kitty }
        guard isatty(0) != 0, isatty(1) != 0 else { return .halfblocks }
        // Ask for the primary device attributes: ESC [ ? 62 ; 4 ; … c — 4 = sixel. 300 ms at most.
        var saved = termios()
        guard tcgetattr(0, &saved) == 0 else { return .halfblocks }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(0, TCSANOW, &raw)
        defer { tcsetattr(0, TCSANOW, &saved) }
        FileHandle.standardOutput.write(Data("\u{1B}[c".utf8))
        var reply = [UInt8]()
        let deadline = Date().addingTimeInterval(0.3)
        while Date() < deadline && reply.last != UInt8(ascii: "c") {
            var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, 50) > 0 else { continue }
            var byte: UInt8 = 0
            if Glibc.read(0, &byte, 1) == 1 { reply.append(byte) }
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let start = text.range(of: "[?") else { return .halfblocks }
        let fields = text[start.upperBound...].dropLast().split(separator: ";")
        return fields.contains("4") ? .sixel : .halfblocks
    }

    /// Cell size in pixels from the terminal, when it reports one.
    func measureCells() {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_xpixel > 0, size.ws_ypixel > 0, size.ws_col > 0, size.ws_row > 0 {
            cellPixels = (Int(size.ws_xpixel) / Int(size.ws_col), Int(size.ws_ypixel) / Int(size.ws_row))
        }
    }

    public func close() {
        FileHandle.standardOutput.write(Data(("\u{1B}[?1002l\u{1B}[?2004l" + (graphics == .kitty ? KittyEncoder.delete() : "")).utf8))
        endwin()
    }

    /// False once the terminal is gone (hang-up, closed pty): the loop must end rather than spin on read errors.
    public var isAlive: Bool {
        var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, 0) >= 0 else { return true }
        return fds.revents & Int16(POLLHUP | POLLERR | POLLNVAL) == 0 && !Terminal.hungUp.value
    }

    static let hungUp = HangUp()

    /// Installs a SIGHUP handler that marks the terminal as gone, and for the signals that end the process (TERM,
    /// INT, QUIT, and the crash signals ABRT, SEGV, BUS, ILL, FPE — a Swift runtime trap is SIGILL) a handler that
    /// gives the terminal back (mouse reporting off, ncurses ended) before the signal's default action runs.
    static func watchHangUp() {
        signal(SIGHUP) { _ in Terminal.hungUp.markFromSignal() }
        for sig in [SIGTERM, SIGINT, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE] {
            signal(sig) { sig in
                let reset: StaticString = "\u{1B}[?1002l\u{1B}[?2004l"
                _ = reset.withUTF8Buffer { Glibc.write(1, $0.baseAddress, $0.count) }
                endwin()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
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
                measureCells()
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
            if get_wch(&next) == OK {
                if next == 10 || next == 13 { return .key(.alt("\n")) }     // alt-enter
                if next == 91, let paste = readBracketedPaste() { return .paste(paste) }
                if let scalar = Unicode.Scalar(UInt32(next)), next >= 32 { return .key(.alt(Character(scalar))) }
            }
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

    /// After ESC [: a bracketed paste (200~ … ESC [201~) as one text, or nil (the bytes read are then dropped, as an
    /// unknown sequence would be).
    func readBracketedPaste() -> String? {
        var head = ""
        var ch: wint_t = 0
        while head.count < 4, get_wch(&ch) == OK, let scalar = Unicode.Scalar(UInt32(ch)) { head.unicodeScalars.append(scalar) }
        guard head == "200~" else { return nil }
        var text = ""
        wtimeout(stdscr, 1000)
        while get_wch(&ch) != ERR, let scalar = Unicode.Scalar(UInt32(ch)) {
            text.unicodeScalars.append(scalar)
            if text.hasSuffix("\u{1B}[201~") { return String(text.dropLast(6)) }
        }
        return text
    }

    /// Draws the cells that differ from the last frame, then places (or hides) the cursor; a sixel or kitty picture
    /// goes over its (blank) cells when it changed.
    public func draw(_ screen: Screen) {
        let imageChanged = drawn?.image != screen.image
        if imageChanged && graphics == .sixel && drawn?.image != nil {
            // Sixel pixels stay until their cells are written again: repaint everything.
            drawn = nil
            clearok(stdscr, true)
        }
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
        if graphics != .halfblocks, imageChanged || full { drawImage(screen.image) }
        drawn = screen
    }

    /// Writes the picture's escape sequence at its cell (cursor saved and restored around it, so ncurses' idea of
    /// the cursor stays right).
    func drawImage(_ placement: ImagePlacement?) {
        var out = graphics == .kitty ? KittyEncoder.delete() : ""
        if let p = placement {
            out += "\u{1B}7\u{1B}[\(p.row + 1);\(p.column + 1)H"
            switch graphics {
            case .kitty:
                out += KittyEncoder.encode(p.canvas, columns: p.columns, rows: p.rows)
            case .sixel:
                let size = p.canvas.fittedSize(maxWidth: p.columns * cellPixels.width, maxHeight: p.rows * cellPixels.height)
                out += SixelEncoder.encode(p.canvas.resized(width: size.width, height: size.height))
            case .halfblocks:
                break
            }
            out += "\u{1B}8"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
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
