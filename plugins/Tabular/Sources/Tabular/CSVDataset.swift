import Foundation
import MLPEngine

/// A CSV file of numbers with one label column: every other column is a feature.
///
/// Labels that are all integers 0..<K are used as they are (class names "0".."K-1");
/// otherwise each distinct label text is a class, named by it, in sorted order.
enum CSVDataset {
    static func load(_ a: DatasetArguments) throws -> Dataset {
        let o = a.options
        let path = o.string("path")
        guard !path.isEmpty else { throw EngineError("csv needs path=FILE.csv") }
        let header = try o.bool("header")
        let labelColumn = o.string("label")
        let separator = o.string("separator")
        guard separator.count == 1, let sep = separator.first else { throw EngineError("separator=\(separator) must be one character") }
        let bytes = try readFileBytes(path, limit: 1 << 30)
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw EngineError("\(path): not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.split(separator: sep, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        guard !lines.isEmpty else { throw EngineError("\(path): no rows") }
        let names = header ? lines.removeFirst() : (0..<lines[0].count).map(String.init)
        guard !lines.isEmpty else { throw EngineError("\(path): a header but no rows") }
        let labelIndex: Int
        if let i = names.firstIndex(of: labelColumn) {
            labelIndex = i
        } else if labelColumn == "last" {
            labelIndex = names.count - 1
        } else if let i = Int(labelColumn), names.indices.contains(i) {
            labelIndex = i
        } else {
            throw EngineError("\(path): no label column '\(labelColumn)' among \(names.joined(separator: ", "))")
        }
        let features = names.count - 1
        guard features >= 1 else { throw EngineError("\(path): needs a label column and at least one feature column") }
        var values = [Float]()
        values.reserveCapacity(lines.count * features)
        var labelTexts = [String]()
        for (n, row) in lines.enumerated() {
            let line = n + (header ? 2 : 1)
            guard row.count == names.count else {
                throw EngineError("\(path):\(line): \(row.count) fields, expected \(names.count)")
            }
            for (j, field) in row.enumerated() where j != labelIndex {
                guard let v = Float(field), v.isFinite else {
                    throw EngineError("\(path):\(line): '\(field)' in column \(names[j]) is not a number")
                }
                values.append(v)
            }
            labelTexts.append(row[labelIndex])
        }
        let distinct = Set(labelTexts)
        let integers = distinct.compactMap { Int($0) }
        let classNames: [String]
        let labels: [Int32]
        if integers.count == distinct.count, let top = integers.max(), integers.min()! >= 0, top < 10_000 {
            classNames = (0...top).map(String.init)
            labels = labelTexts.map { Int32($0)! }
        } else {
            classNames = distinct.sorted()
            let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, Int32($0)) })
            labels = labelTexts.map { index[$0]! }
        }
        let limit = o.has("limit") ? try o.int("limit", min: 1) : lines.count
        let keep = min(limit, lines.count)
        return FloatDataset(summary: "csv \((path as NSString).lastPathComponent) (\(keep) rows, \(features) features, \(classNames.count) classes)",
                            sampleShape: [features], classNames: classNames,
                            values: Array(values.prefix(keep * features)), labels: Array(labels.prefix(keep)))
    }
}
