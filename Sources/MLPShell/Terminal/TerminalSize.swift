import Foundation

/// A terminal's size in character cells, as the kernel keeps it (TIOCGWINSZ).
struct TerminalSize: Equatable {
    var rows: Int
    var columns: Int

    /// The size of the terminal on `fd`; nil when `fd` is not a terminal or its size is unset.
    init?(of fd: Int32) {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        rows = Int(size.ws_row)
        columns = Int(size.ws_col)
    }

    /// The width of the terminal on `fd`: $COLUMNS, else 80, when it does not say.
    static func columns(of fd: Int32) -> Int {
        if let size = TerminalSize(of: fd) { return size.columns }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        return 80
    }
}
