import Foundation

/// A table of numbers from CSV: one label column, every other column a feature (a float).
/// Read as its bytes come (`CSVTable.Reader`), so that memory holds the numbers, not the
/// text: about 4 bytes a feature, whatever the file's size.
///
/// Labels that are all whole numbers 0..<10,000 are classes as they are (class names "0" up
/// to the largest); otherwise each distinct label text is a class, numbered in sorted order.
public struct CSVTable {
    public let columnNames: [String]
    /// Row-major, `rows` × `features`.
    public let values: [Float]
    public let labels: [Int32]
    public let classNames: [String]
    public var rows: Int { labels.count }
    public var features: Int { columnNames.count - 1 }

    /// The most distinct labels a table may have.
    public static let maximumClasses = 65_536
    /// The longest line read.
    public static let maximumLineBytes = 1 << 24

    /// Reads the CSV file at `path` (gzip-compressed or not); `limit` keeps the first rows.
    public static func read(path: String, label: String = "label", header: Bool = true, separator: UInt8 = UInt8(ascii: ","),
                            limit: Int = .max) throws -> CSVTable {
        let reader = try Reader(name: path, label: label, header: header, separator: separator, limit: limit)
        try forEachChunk(ofFile: path, limit: 1 << 34) { try reader.consume($0) }
        return try reader.finish()
    }

    /// Parses CSV fed in chunks of any size, split anywhere.
    public final class Reader {
        private let name: String, labelColumn: String, header: Bool, separator: UInt8, limit: Int
        private var pending: [UInt8] = []
        private var line = 0
        private var names: [String]?
        private var labelIndex = 0
        private var values: [Float] = []
        private var labelIDs: [Int32] = []
        private var labelTexts: [String] = []
        private var labelID: [String: Int32] = [:]

        public init(name: String, label: String, header: Bool, separator: UInt8, limit: Int) throws {
            guard separator != UInt8(ascii: "\n"), separator != UInt8(ascii: "\r"), separator < 0x80 else {
                throw EngineError("the separator must be one ASCII character other than a line break")
            }
            self.name = name
            labelColumn = label
            self.header = header
            self.separator = separator
            self.limit = max(0, limit)
        }

        private var full: Bool { labelIDs.count >= limit }

        /// Takes the next bytes; returns false once `limit` rows are read (the rest is not needed).
        public func consume(_ bytes: UnsafeRawBufferPointer) throws -> Bool {
            var start = 0
            for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\n") {
                if pending.isEmpty {
                    try row(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                } else {
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                    try pending.withUnsafeBytes { try row($0) }
                    pending.removeAll(keepingCapacity: true)
                }
                start = i + 1
                if full { return false }
            }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...]))
            guard pending.count <= CSVTable.maximumLineBytes else {
                throw EngineError("\(name):\(line + 1): a line longer than \(CSVTable.maximumLineBytes) bytes")
            }
            return true
        }

        /// The table, once the input has ended.
        public func finish() throws -> CSVTable {
            if !pending.isEmpty && !full {
                let last = pending
                pending = []
                try last.withUnsafeBytes { try row($0) }
            }
            guard let names else { throw EngineError("\(name): no rows") }
            guard !labelIDs.isEmpty else { throw EngineError("\(name): a header but no rows") }
            // Whole-number labels 0..<10,000 are their own classes; others are named, sorted.
            let numbers = labelTexts.map { Int($0) }
            if let top = numbers.max(by: { ($0 ?? -1) < ($1 ?? -1) }) ?? nil,
               numbers.allSatisfy({ $0 != nil && $0! >= 0 }), top < 10_000 {
                let byID = numbers.map { Int32($0!) }
                return CSVTable(columnNames: names, values: values, labels: labelIDs.map { byID[Int($0)] },
                                classNames: (0...top).map(String.init))
            }
            let sorted = labelTexts.enumerated().sorted { $0.element < $1.element }
            var rank = [Int32](repeating: 0, count: labelTexts.count)
            for (r, entry) in sorted.enumerated() { rank[entry.offset] = Int32(r) }
            return CSVTable(columnNames: names, values: values, labels: labelIDs.map { rank[Int($0)] },
                            classNames: sorted.map(\.element))
        }

        /// One line: the header, or a row of numbers and a label. Empty lines are skipped.
        private func row(_ bytes: UnsafeRawBufferPointer) throws {
            line += 1
            var end = bytes.count
            if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard end > 0 else { return }
            let text = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
            var fields: [UnsafeRawBufferPointer] = []
            var from = 0
            for i in 0...end where i == end || text[i] == separator {
                fields.append(trimmed(UnsafeRawBufferPointer(rebasing: text[from..<i])))
                from = i + 1
            }
            if names == nil {
                try start(fields)
                // Without a header the first line is a row too.
                if header { return }
            }
            let names = self.names!
            guard fields.count == names.count else {
                throw EngineError("\(name):\(line): \(fields.count) fields, expected \(names.count)")
            }
            for (j, field) in fields.enumerated() where j != labelIndex {
                guard let v = Float(try string(field)), v.isFinite else {
                    throw EngineError("\(name):\(line): '\(try string(field))' in column \(names[j]) is not a number")
                }
                values.append(v)
            }
            let label = try string(fields[labelIndex])
            if let id = labelID[label] {
                labelIDs.append(id)
            } else {
                guard labelTexts.count < CSVTable.maximumClasses else {
                    throw EngineError("\(name):\(line): more than \(CSVTable.maximumClasses) distinct labels in column \(names[labelIndex]) (is label= the right column?)")
                }
                let id = Int32(labelTexts.count)
                labelID[label] = id
                labelTexts.append(label)
                labelIDs.append(id)
            }
        }

        /// The first line: the column names (or, without a header, the first row, named 0, 1, ...).
        private func start(_ fields: [UnsafeRawBufferPointer]) throws {
            let given = try fields.map(string)
            let columns = header ? given : (0..<given.count).map(String.init)
            if let i = columns.firstIndex(of: labelColumn) {
                labelIndex = i
            } else if labelColumn == "last" {
                labelIndex = columns.count - 1
            } else if let i = Int(labelColumn), columns.indices.contains(i) {
                labelIndex = i
            } else {
                throw EngineError("\(name): no label column '\(labelColumn)' among \(columns.joined(separator: ", "))")
            }
            guard columns.count >= 2 else { throw EngineError("\(name): needs a label column and at least one feature column") }
            names = columns
        }

        private func string(_ field: UnsafeRawBufferPointer) throws -> String {
            guard let s = String(validating: field, as: UTF8.self) else { throw EngineError("\(name):\(line): not UTF-8 text") }
            return s
        }

        private func trimmed(_ field: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            var a = 0, b = field.count
            while a < b && (field[a] == 0x20 || field[a] == 0x09) { a += 1 }
            while b > a && (field[b - 1] == 0x20 || field[b - 1] == 0x09) { b -= 1 }
            return UnsafeRawBufferPointer(rebasing: field[a..<b])
        }
    }
}
