import Foundation
import XCTest

/// `mlpsh --help` on an 80-column terminal: every line fits, laid out as written, none
/// broken by ArgumentParser mid-column.
final class HelpTests: FolderTestCase {
    /// The help text at a terminal `columns` wide.
    private func help(columns: Int) throws -> String {
        let r = try Fixtures.mlpsh(["--help"], in: folder, environment: ["COLUMNS": String(columns)])
        XCTAssertEqual(r.status, 0, r.err)
        return r.out + r.err
    }

    func testHelpFitsEightyColumnsAsWritten() throws {
        let narrow = try help(columns: 80)
        XCTAssertTrue(narrow.contains("MLPSH_DATA") && narrow.contains("OPTIONS:"), narrow)
        for line in narrow.split(separator: "\n", omittingEmptySubsequences: false) {
            XCTAssertLessThanOrEqual(line.count, 80, "at 80 columns: '\(line)'")
        }
        // ArgumentParser wraps what does not fit in the width, breaking a column or a
        // sentence where the width falls: the text is only laid out as written when it is
        // the same on a terminal wide enough to wrap nothing.
        let wide = try help(columns: 200)
        for line in wide.split(separator: "\n", omittingEmptySubsequences: false) {
            XCTAssertLessThanOrEqual(line.count, 80, "as written: '\(line)'")
        }
        XCTAssertEqual(narrow, wide)
    }
}
