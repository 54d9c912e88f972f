import CReadline
import Foundation

/// The bridge from readline's C completion hooks to a Completer.
enum ReadlineCompletion {
    nonisolated(unsafe) static var completer: Completer?
    nonisolated(unsafe) static var matches: [String] = []

    static func install(_ completer: Completer?) {
        self.completer = completer
        rl_attempted_completion_function = { text, start, _ in
            rl_attempted_completion_over = 1
            guard let completer = ReadlineCompletion.completer, let text else { return nil }
            let line = String(cString: rl_line_buffer)
            let before = String(line.utf8.prefix(Int(start))) ?? ""
            let word = String(cString: text)
            let found = completer.complete(line: before, word: word)
            ReadlineCompletion.matches = found
            // No space after "key=", a folder, or a "$" name still being typed.
            if found.count == 1, let only = found.first, only.hasSuffix("=") || only.hasSuffix("/") {
                rl_completion_append_character = 0
            } else {
                rl_completion_append_character = 32
            }
            return rl_completion_matches(text) { _, state in
                let m = ReadlineCompletion.matches
                guard Int(state) < m.count else { return nil }
                return strdup(m[Int(state)])
            }
        }
        // Break words at spaces only, so "key=" and "path/x" stay whole.
        rl_completer_word_break_characters = UnsafePointer(strdup(" \t\n;"))
    }
}
