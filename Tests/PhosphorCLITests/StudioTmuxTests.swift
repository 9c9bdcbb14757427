import Foundation
import ImageIO
import Testing
import TestSupport

/// The real studio binary driven through tmux (send-keys, capture-pane) on its own tmux server.
@Suite(.serialized) struct StudioTmuxTests {
    final class Session {
        let socket = "phosphor-test-" + UUID().uuidString.prefix(8)
        let folder = Fixtures.temporaryFolder()

        /// Runs a tmux client command through the shell (system(3) reaps it; output goes to a file, since the server that
        /// the first command starts inherits the client's descriptors and would hold a pipe open).
        @discardableResult
        func tmux(_ args: [String]) throws -> String {
            let capture = folder + "/tmux-out.txt"
            func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            let line = (["tmux", "-L", socket] + args).map(quote).joined(separator: " ") + " > \(quote(capture)) 2>/dev/null < /dev/null"
            _ = system(line)
            return (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        }

        func start(width: Int = 100, height: Int = 30, arguments: String = "") throws {
            let command = "cd '\(folder)' && TERM=xterm-256color PHOSPHOR_HISTORY='\(folder)/history' '\(CLI.binary)' -o '\(folder)/out' \(arguments); echo EXIT=$?; sleep 600"
            try tmux(["new-session", "-d", "-s", "t", "-x", "\(width)", "-y", "\(height)", command])
        }

        func keys(_ keys: String...) throws { try tmux(["send-keys", "-t", "t"] + keys) }
        func type(_ text: String) throws { try tmux(["send-keys", "-t", "t", "-l", text]) }
        func pane() throws -> String { try tmux(["capture-pane", "-t", "t", "-p"]) }

        /// Polls the pane until it contains `text` (or the time runs out); returns the last capture.
        func wait(for text: String, seconds: Double = 180) throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            var last = ""
            while Date() < deadline {
                last = try pane()
                if last.contains(text) { return last }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return last
        }

        deinit { _ = try? tmux(["kill-server"]) }
    }

    @Test func typeGenerateWatchAndQuit() throws {
        let s = Session()
        try s.start()
        #expect(try s.wait(for: "enter generate").contains("phosphor studio"))
        try s.type("a yellow star above a green ring")
        let typed = try s.wait(for: "a yellow star above a green ring")
        #expect(typed.contains("a yellow star above a green ring"), "\(typed)")
        let counted = try s.wait(for: "Prompt 7/30")
        #expect(counted.contains("Prompt 7/30"), "token counter: \(counted)")
        try s.keys("Enter")
        // Keys keep echoing while the model runs: the negative prompt is typed during generation.
        try s.keys("Tab")
        try s.type("blurry")
        let during = try s.wait(for: "blurry")
        #expect(during.contains("blurry"))
        let done = try s.wait(for: "Done in")
        #expect(done.contains("Done in") && done.contains("00000-0.png"), "\(done)")
        #expect(done.contains("▀"), "no image cells")
        let png = try PNG.read(path: s.folder + "/out/00000-0.png")
        #expect(png.width == 128 && png.height == 128)
        let parameters = try #require(try PNG.readText(path: s.folder + "/out/00000-0.png").first { $0.keyword == "parameters" }?.text)
        #expect(parameters.hasPrefix("a yellow star above a green ring"))
        #expect(done.contains("Seed            1"), "seed mode +1 moves to the next seed")   // seed advanced after the run
        try s.keys("F1")
        #expect(try s.wait(for: "delete-word").contains("Keys (assets/keymap"))
        try s.keys("x")
        // The gallery lists the new image; opening it loads its request back into the editor.
        try s.keys("Tab", "C-u")             // (focus: params → prompt) clear the prompt
        try s.keys("F2")
        let gallery = try s.wait(for: "Gallery: 1 images")
        #expect(gallery.contains("a yellow star ab"), "\(gallery)")
        try s.keys("Enter")
        #expect(try s.wait(for: "Loaded").contains("a yellow star above a green ring"))
        // The prompt went into the history file, and Up recalls it into an empty prompt.
        let history = try String(contentsOfFile: s.folder + "/history", encoding: .utf8)
        #expect(history == "\"a yellow star above a green ring\"\n", "\(history)")
        try s.keys("C-u", "Up")
        #expect(try s.wait(for: "Prompt 7/30").contains("a yellow star above a green ring"))
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }

    /// Gallery → mask painter → inpaint: the mask PNG is written beside the image and the inpainted image after it.
    @Test func paintAMaskAndInpaint() throws {
        let s = Session()
        try s.start()
        _ = try s.wait(for: "enter generate")
        try s.type("a red circle")
        try s.keys("Enter")
        _ = try s.wait(for: "Done in")
        try s.keys("F2")
        _ = try s.wait(for: "Gallery: 1 images")
        try s.keys("m")
        _ = try s.wait(for: "pen up")
        try s.keys("Space", "Right", "Right", "Down")
        #expect(try s.wait(for: "pen down").contains("brush"))
        try s.keys("Enter")
        let done = try s.wait(for: "00001-")
        #expect(done.contains("Done in"), "\(done)")
        let files = try FileManager.default.contentsOfDirectory(atPath: s.folder + "/out").sorted()
        #expect(files.contains("00000-0.mask.png") && files.contains { $0.hasPrefix("00001-") }, "\(files)")
        let mask = try PNG.read(path: s.folder + "/out/00000-0.mask.png").rgb8().pixels
        #expect(mask.contains(255) && mask.contains(0))
        let inpainted = try #require(files.first { $0.hasPrefix("00001-") })
        let parameters = try #require(try PNG.readText(path: s.folder + "/out/" + inpainted).first { $0.keyword == "parameters" }?.text)
        #expect(parameters.contains("Denoising strength: 1") && parameters.contains("Mask blur"), "\(parameters)")
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }

    /// Gallery filter → img2img from the match → mask painted with the mouse (SGR mouse reports, as a terminal sends
    /// them) → inpaint: the files and their metadata say each step happened.
    @Test func filterImg2imgAndMousePainting() throws {
        let s = Session()
        try s.start()
        _ = try s.wait(for: "enter generate")
        try s.type("a red circle")
        try s.keys("Enter")
        _ = try s.wait(for: "00000-0.png")
        try s.keys("C-u")
        try s.type("a blue square")
        try s.keys("Enter")
        #expect(try s.wait(for: "00001-1.png").contains("Done in"))
        try s.keys("F2")
        _ = try s.wait(for: "Gallery: 2 images")
        try s.keys("/")
        try s.type("blue")
        try s.keys("Enter")
        let filtered = try s.wait(for: "1 of 2 images with \"blue\"")
        #expect(filtered.contains("a blue square") && !filtered.contains("a red circle"), "\(filtered)")
        // CLIP search ranks the gallery (the runtime embeds the folder's images on a thread).
        try s.keys("Escape")
        _ = try s.wait(for: "Gallery: 2 images")
        try s.keys("s")
        try s.type("a blue square")
        try s.keys("Enter")
        #expect(try s.wait(for: "ranked by CLIP similarity").contains("\"a blue square\""))
        #expect(FileManager.default.fileExists(atPath: s.folder + "/out/.phosphor-clip-index.jsonl"))
        try s.keys("Escape")
        _ = try s.wait(for: "newest first")
        try s.keys("/")
        try s.type("blue")
        try s.keys("Enter")
        _ = try s.wait(for: "1 of 2 images with")
        try s.keys("i")
        #expect(try s.wait(for: "img2img from 00001-1.png").contains("strength 0.75"))
        try s.keys("Enter")
        _ = try s.wait(for: "00002-2.png")
        let img2img = try #require(try PNG.readText(path: s.folder + "/out/00002-2.png").first { $0.keyword == "parameters" }?.text)
        #expect(img2img.hasPrefix("a blue square") && img2img.contains("Denoising strength: 0.75"), "\(img2img)")
        // Back to the whole gallery; paint on the newest image with the mouse.
        try s.keys("F2")
        _ = try s.wait(for: "2 of 3 images")
        try s.keys("Escape")
        _ = try s.wait(for: "Gallery: 3 images")
        try s.keys("m")
        _ = try s.wait(for: "pen up")
        func mouse(_ code: Int, _ column: Int, _ row: Int, _ end: String) throws {
            try s.type("\u{1B}[<\(code);\(column);\(row)\(end)")
        }
        try mouse(0, 45, 12, "M")
        #expect(try s.wait(for: "pen down").contains("pen down"))
        try mouse(32, 52, 14, "M")
        try mouse(32, 58, 16, "M")
        try mouse(0, 58, 16, "m")
        _ = try s.wait(for: "pen up")
        try s.keys("Enter")
        _ = try s.wait(for: "00003-")
        let mask = try PNG.read(path: s.folder + "/out/00002-2.mask.png").rgb8()
        let white = stride(from: 0, to: mask.pixels.count, by: 3).filter { mask.pixels[$0] == 255 }.count
        // A stroke of brush discs, not the whole image.
        #expect(white > 100 && white < mask.pixels.count / 3 / 2, "\(white) mask pixels")
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }

    /// --graphics sixel / kitty: what the studio writes to the terminal (tmux's pipe-pane records the raw bytes; tmux
    /// itself shows neither) carries the picture in that protocol, and the studio works as usual.
    @Test(arguments: ["sixel", "kitty"])
    func pixelGraphicsReachTheTerminal(_ mode: String) throws {
        let s = Session()
        try s.start(arguments: "--graphics \(mode)")
        _ = try s.wait(for: "enter generate")
        let raw = s.folder + "/raw.bin"
        try s.tmux(["pipe-pane", "-t", "t", "-o", "cat >> '\(raw)'"])
        try s.type("a green star")
        try s.keys("Enter")
        #expect(try s.wait(for: "Done in").contains("00000-0.png"))
        Thread.sleep(forTimeInterval: 0.5)
        let bytes = String(decoding: try Data(contentsOf: URL(fileURLWithPath: raw)), as: UTF8.self)
        if mode == "sixel" {
            let start = try #require(bytes.range(of: "\u{1B}P0;1;0q\"1;1;"), "no sixel image written")
            let end = try #require(bytes.range(of: "\u{1B}\\", range: start.upperBound..<bytes.endIndex))
            let size = bytes[start.upperBound..<end.lowerBound].prefix { $0 != "#" }.split(separator: ";").compactMap { Int($0) }
            #expect(size.count == 2 && size[0] >= 100 && size[1] >= 100, "sixel size \(size)")
        } else {
            #expect(bytes.contains("\u{1B}_Ga=T,f=24,i=1,s=128,v=128,"), "no kitty image written")
        }
        #expect(!(try s.pane()).contains("▀"))
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }

    /// The terminal is given back when the studio is killed (SIGTERM, and a crash signal): tmux reports the pane out
    /// of the alternate screen, and the shell's next line shows the signal's exit status.
    @Test(arguments: [("TERM", 143), ("SEGV", 139)])
    func terminalRestoredOnSignals(_ c: (String, Int)) throws {
        let s = Session()
        try s.start()
        _ = try s.wait(for: "enter generate")
        #expect(try s.tmux(["display", "-p", "-t", "t", "#{alternate_on}"]).hasPrefix("1"))
        _ = system("pkill -\(c.0) -f '\(CLI.binary) -o \(s.folder)/out'")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=\(c.1)"))
        #expect(try s.tmux(["display", "-p", "-t", "t", "#{alternate_on}"]).hasPrefix("0"))
    }

    /// A pasted multi-line prompt (bracketed paste, as tmux's paste-buffer -p sends it) lands in the editor as text:
    /// its newline does not start a generation.
    @Test func pasteIsTextNotKeys() throws {
        let s = Session()
        try s.start()
        _ = try s.wait(for: "enter generate")
        try s.tmux(["set-buffer", "a lighthouse on a cliff\nstormy night"])
        try s.tmux(["paste-buffer", "-p", "-t", "t"])
        let pane = try s.wait(for: "stormy night")
        #expect(pane.contains("a lighthouse on a cliff") && pane.contains("stormy night") && !pane.contains("it/s"), "\(pane)")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(!(try s.pane()).contains("it/s") && !FileManager.default.fileExists(atPath: s.folder + "/out/00000-0.png"))
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }

    @Test func escapeCancelsWithinAStepAndWritesNothing() throws {
        let s = Session()
        try s.start()
        _ = try s.wait(for: "enter generate")
        try s.keys("BTab")              // parameters
        for _ in 0..<4 { try s.keys("Right") }   // steps 24: time to cancel
        try s.keys("BTab", "BTab")      // back to the prompt
        try s.type("two red circles")
        try s.keys("Enter")
        _ = try s.wait(for: "/24")
        try s.keys("Escape")
        #expect(try s.wait(for: "Cancelled").contains("Cancelled"))
        let files = (try? FileManager.default.contentsOfDirectory(atPath: s.folder + "/out")) ?? []
        #expect(files.filter { $0.hasSuffix(".png") }.isEmpty, "\(files)")
        try s.keys("C-q")
        #expect(try s.wait(for: "EXIT=").contains("EXIT=0"))
    }
}
