import CNCurses
import COpenBLAS
import CPNG
import Testing

/// The C shims link and expose what later modules rely on.
@Suite struct SystemShimTests {
    @Test func openBLASReportsItsConfiguration() {
        let config = String(cString: openblas_get_config())
        #expect(config.contains("OpenBLAS"))
        #expect(openblas_get_num_threads() >= 1)
    }

    @Test func ncursesIsTheWideCharacterBuild() {
        let version = String(cString: curses_version())
        #expect(version.hasPrefix("ncurses "))
        // setcchar exists only in the wide-character library (ncursesw).
        var cell = cchar_t()
        var text: [wchar_t] = [0x2580, 0]
        #expect(setcchar(&cell, &text, 0, 0, nil) == OK)
    }

    @Test func pngShimRejectsGarbage() {
        var image = cpng_image()
        var message = [CChar](repeating: 0, count: 128)
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        #expect(cpng_decode(bytes, bytes.count, 1, &image, &message, message.count) != 0)
        #expect(String(cString: message).contains("signature"))
    }
}
