import Foundation
import MLPEngine

/// Every `train`, kept in a SQLite database (MLflow keeps its runs in SQLite too): one row a
/// run, one row an epoch. Several mlpsh processes may train at once (WAL journal, a busy
/// timeout); each epoch is committed as it ends, so a process that dies keeps its finished
/// epochs and its run stays `running`, never `finished`.
final class RunStore {
    /// A run as `runs` lists it and `runs show` tells it.
    struct Run {
        var id: Int64
        var name: String
        var started: Double
        var ended: Double?
        var status: String
        var seconds: Double?
        var source: String
        var command: String
        var model: String
        var loss: String
        var optimizer: String
        var schedule: String
        var seed: Int64
        var threads: Int64
        var datasets: String
        var files: [String]
        var epochs: [EpochResult] = []
    }

    let database: SQLiteDatabase

    /// $MLPSH_RUNS, else $XDG_DATA_HOME/mlpsh/runs.sqlite, else ~/.local/share/mlpsh/runs.sqlite.
    /// Whether recording is turned off: MLPSH_RUNS=off (or /dev/null, the natural way to say it).
    static var isOff: Bool {
        let p = ProcessInfo.processInfo.environment["MLPSH_RUNS"]
        return p == "off" || p == "/dev/null"
    }

    /// mlpsh's mark in a store's header (PRAGMA application_id): "mlps".
    static let applicationID: Int64 = 0x6D6C_7073

    static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["MLPSH_RUNS"], !p.isEmpty { return p }
        let data = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeFolder + "/.local/share"
        return data + "/mlpsh/runs.sqlite"
    }

    /// The schema, one migration a version (PRAGMA user_version counts those applied).
    private static let migrations = [
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT '',
            started REAL NOT NULL, ended REAL, status TEXT NOT NULL, seconds REAL,
            source TEXT NOT NULL, command TEXT NOT NULL, model TEXT NOT NULL, loss TEXT NOT NULL,
            optimizer TEXT NOT NULL, schedule TEXT NOT NULL, seed INTEGER NOT NULL, threads INTEGER NOT NULL,
            datasets TEXT NOT NULL);
        CREATE TABLE epochs (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL,
            train_loss REAL, train_acc REAL, test_loss REAL, test_acc REAL, lr REAL, seconds REAL,
            PRIMARY KEY (run, epoch));
        CREATE TABLE files (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, path TEXT NOT NULL, written REAL NOT NULL);
        """,
        // 0.6: the validation set's figures.
        """
        ALTER TABLE epochs ADD COLUMN val_loss REAL;
        ALTER TABLE epochs ADD COLUMN val_acc REAL;
        """,
    ]

    /// Opens the store to read it only (runs, runs show, compare, plot runs=): nothing is
    /// created or written, so a store in a read-only folder can still be read. A store last
    /// closed cleanly has no WAL files, and reading it where they cannot be made is done as of
    /// an unchanging file.
    init(readingOnly path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SQLiteError(message: "\(path): no run history yet") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SQLiteError(message: "\(path) is not a regular file (MLPSH_RUNS=off turns the run history off)")
        }
        let folderWritable = access((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, W_OK) == 0
        database = try SQLiteDatabase(path: path, readOnly: true, immutable: !folderWritable)
        try database.run("PRAGMA busy_timeout = \(Self.busyMilliseconds)")
        let (version, _) = try checkOwnership()
        guard version <= Self.migrations.count else {
            throw SQLiteError(message: "\(database.path): made by a newer mlpsh (schema \(version))")
        }
        guard version == Self.migrations.count else {
            throw SQLiteError(message: "\(database.path): made by an older mlpsh (schema \(version)); train once to bring it up to date")
        }
    }

    init(path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        // SQLite would open a device or FIFO and leave a journal beside it: only a regular file.
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw SQLiteError(message: "\(path) is not a regular file (MLPSH_RUNS=off turns the run history off)")
        }
        database = try SQLiteDatabase(path: path)
        try database.run("PRAGMA busy_timeout = \(Self.busyMilliseconds)")
        // Before anything is written (the switch to WAL writes the header): is it mlpsh's?
        try whileBusy { try checkOwnership() }
        // Switching to WAL takes an exclusive lock without waiting on the busy timeout (SQLite
        // returns SQLITE_BUSY at once rather than risk a deadlock), so two processes creating
        // the store together retry here. The mode is kept in the file: later opens pass at once.
        try whileBusy { try database.run("PRAGMA journal_mode = WAL") }
        // In WAL mode, NORMAL syncs at checkpoints: a crash of mlpsh loses nothing committed.
        try database.run("PRAGMA synchronous = NORMAL")
        try database.run("PRAGMA foreign_keys = ON")
        // A run is written an epoch at a time and read rarely: 256 KB of page cache, not 2 MB.
        try database.run("PRAGMA cache_size = -256")
        try whileBusy { try migrate() }
    }

    /// How long a connection waits for another's lock before giving up.
    private static let busyMilliseconds = 10_000

    /// Runs `body` again while another connection holds the lock it needs, for up to the
    /// busy timeout.
    private func whileBusy(_ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(Double(Self.busyMilliseconds) / 1000)
        var pause: useconds_t = 1_000
        while true {
            do {
                return try body()
            } catch let error as SQLiteError where error.isBusy && Date() < deadline {
                usleep(pause)
                pause = min(pause * 2, 50_000)
            }
        }
    }

    /// Whether the file is mlpsh's store, and its schema version: marked with mlpsh's
    /// application id, or new (empty), or made by an mlpsh from before the mark (its tables
    /// and a known version). Anything else is another program's database and is never written.
    @discardableResult
    private func checkOwnership() throws -> (version: Int, marked: Bool) {
        let version = Int(try database.run("PRAGMA user_version").first?.first?.integer ?? 0)
        let application = try database.run("PRAGMA application_id").first?.first?.integer ?? 0
        let tables = try database.run("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text }
        let marked = application == Self.applicationID
        let fresh = application == 0 && version == 0 && tables.isEmpty
        let older = application == 0 && (1...Self.migrations.count).contains(version) && Set(tables).isSuperset(of: ["runs", "epochs", "files"])
        guard marked || fresh || older else {
            throw SQLiteError(message: "\(database.path) is not mlpsh's run history (another program's SQLite database): it is left alone")
        }
        guard version >= 0 else { throw SQLiteError(message: "\(database.path) is not mlpsh's run history (schema \(version))") }
        return (version, marked)
    }

    private func migrate() throws {
        try database.run("BEGIN IMMEDIATE")
        do {
            let (version, marked) = try checkOwnership()
            if !marked { try database.run("PRAGMA application_id = \(Self.applicationID)") }
            guard version <= Self.migrations.count else {
                throw SQLiteError(message: "\(database.path): made by a newer mlpsh (schema \(version))")
            }
            for (i, sql) in Self.migrations.enumerated().dropFirst(version) {
                for part in sql.split(separator: ";") where !part.allSatisfy(\.isWhitespace) { try database.run(String(part)) }
                try database.run("PRAGMA user_version = \(i + 1)")
            }
            try database.run("COMMIT")
        } catch {
            _ = try? database.run("ROLLBACK")
            throw error
        }
    }

    func begin(_ r: Run) throws -> Int64 {
        try database.run("""
            INSERT INTO runs (name, started, status, source, command, model, loss, optimizer, schedule, seed, threads, datasets)
            VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(r.name), .real(r.started), .text(r.source), .text(r.command), .text(r.model), .text(r.loss),
                  .text(r.optimizer), .text(r.schedule), .integer(r.seed), .integer(r.threads), .text(r.datasets)])
        return database.lastInsertedRow
    }

    func addEpoch(_ run: Int64, _ e: EpochResult) throws {
        try database.run("""
            INSERT OR REPLACE INTO epochs (run, epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds, val_loss, val_acc)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
                         [.integer(run), .integer(Int64(e.epoch)), .real(e.trainLoss), .real(e.trainAccuracy),
                          e.testLoss.map { .real($0) } ?? .null, e.testAccuracy.map { .real($0) } ?? .null,
                          .real(Double(e.learningRate)), .real(e.seconds),
                          e.valLoss.map { .real($0) } ?? .null, e.valAccuracy.map { .real($0) } ?? .null])
    }

    func end(_ run: Int64, status: String, seconds: Double) throws {
        try database.run("UPDATE runs SET status = ?, ended = ?, seconds = ? WHERE id = ?",
                         [.text(status), .real(Date().timeIntervalSince1970), .real(seconds), .integer(run)])
    }

    func addFile(_ run: Int64, path: String) throws {
        try database.run("INSERT INTO files VALUES (?, ?, ?)", [.integer(run), .text(path), .real(Date().timeIntervalSince1970)])
    }

    /// The newest `last` runs, newest last.
    func list(last: Int) throws -> [Run] {
        let ids = try database.run("SELECT id FROM runs ORDER BY id DESC LIMIT ?", [.integer(Int64(last))]).compactMap { $0[0].integer }
        return try ids.reversed().map { try run($0) }
    }

    func ids() throws -> [Int64] {
        try database.run("SELECT id FROM runs ORDER BY id").compactMap { $0[0].integer }
    }

    /// Run `id` with its epochs and files.
    func run(_ id: Int64) throws -> Run {
        guard let row = try database.run("""
            SELECT id, name, started, ended, status, seconds, source, command, model, loss, optimizer, schedule, seed, threads, datasets
            FROM runs WHERE id = ?
            """, [.integer(id)]).first else { throw EngineError("no run \(id) (see 'runs')") }
        var r = Run(id: row[0].integer ?? 0, name: row[1].text ?? "", started: row[2].real ?? 0, ended: row[3].real,
                    status: row[4].text ?? "", seconds: row[5].real, source: row[6].text ?? "", command: row[7].text ?? "",
                    model: row[8].text ?? "", loss: row[9].text ?? "", optimizer: row[10].text ?? "",
                    schedule: row[11].text ?? "", seed: row[12].integer ?? 0, threads: row[13].integer ?? 0,
                    datasets: row[14].text ?? "", files: [])
        r.files = try database.run("SELECT path FROM files WHERE run = ? ORDER BY written", [.integer(id)]).compactMap { $0[0].text }
        r.epochs = try database.run("""
            SELECT epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds, val_loss, val_acc FROM epochs WHERE run = ? ORDER BY epoch
            """, [.integer(id)]).map { e in
            EpochResult(epoch: Int(e[0].integer ?? 0), trainLoss: e[1].real ?? .nan, trainAccuracy: e[2].real ?? .nan,
                        testLoss: e[3].real, testAccuracy: e[4].real, learningRate: Float(e[5].real ?? 0), seconds: e[6].real ?? 0,
                        valLoss: e[7].real, valAccuracy: e[8].real)
        }
        return r
    }

    func remove(_ id: Int64) throws {
        _ = try run(id)
        try database.run("DELETE FROM runs WHERE id = ?", [.integer(id)])
    }
}
