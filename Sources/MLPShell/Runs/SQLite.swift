import CSQLite
import Foundation

/// A SQLite connection through its C API: statements prepared with bound values (never text
/// pasted into SQL), rows read as column values.
final class SQLiteDatabase {
    enum Value {
        case null, integer(Int64), real(Double), text(String)

        var text: String? { if case .text(let s) = self { return s }; return nil }
        var integer: Int64? { if case .integer(let i) = self { return i }; return nil }
        var real: Double? {
            switch self {
            case .real(let d): return d
            case .integer(let i): return Double(i)
            default: return nil
            }
        }
    }

    private var db: OpaquePointer?
    let path: String

    /// Opens (or creates) the database at `path`; `immutable` reads it as a file nothing
    /// changes (no locks, no WAL index), for a store in a folder mlpsh cannot write.
    init(path: String, readOnly: Bool = false, immutable: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var name = path
        if immutable {
            let escaped = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#"))) ?? path
            name = "file:\(escaped)?immutable=1"
        }
        guard sqlite3_open_v2(name, &db, flags | SQLITE_OPEN_FULLMUTEX | (immutable ? SQLITE_OPEN_URI : 0), nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            db = nil
            throw SQLiteError(message: "\(path): \(message)")
        }
    }

    deinit { sqlite3_close(db) }

    /// Runs `sql` with `values` bound to its ? in order; returns the rows.
    @discardableResult
    func run(_ sql: String, _ values: [Value] = []) throws -> [[Value]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let at = Int32(i + 1)
            switch v {
            case .null: sqlite3_bind_null(statement, at)
            case .integer(let n): sqlite3_bind_int64(statement, at, n)
            case .real(let d): sqlite3_bind_double(statement, at, d)
            case .text(let s): sqlite3_bind_text(statement, at, s, -1, transient)
            }
        }
        var rows: [[Value]] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else { throw error(sql) }
            rows.append((0..<sqlite3_column_count(statement)).map { c in
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, c))
                case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, c))
                case SQLITE_NULL: return .null
                default: return .text(String(cString: sqlite3_column_text(statement, c)))
                }
            })
        }
    }

    var lastInsertedRow: Int64 { sqlite3_last_insert_rowid(db) }

    private func error(_ sql: String) -> SQLiteError {
        SQLiteError(message: "\(path): \(String(cString: sqlite3_errmsg(db)))", code: sqlite3_errcode(db))
    }
}

struct SQLiteError: Error, CustomStringConvertible {
    let message: String
    /// SQLite's result code, SQLITE_ERROR when the error is mlpsh's own.
    var code: Int32 = SQLITE_ERROR
    var description: String { message }
    /// Another connection holds a lock this one needs.
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
}
