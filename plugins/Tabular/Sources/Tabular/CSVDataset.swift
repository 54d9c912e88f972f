import Foundation
import MLPEngine

/// The `csv` data set: a CSV file of numbers with one label column, every other column a
/// feature, read by the engine's CSVTable (whole-number labels 0..<K are classes as they
/// are; other labels are named classes, in sorted order).
enum CSVDataset {
    static func load(_ a: DatasetArguments) throws -> Dataset {
        let o = a.options
        let path = o.string("path")
        guard !path.isEmpty else { throw EngineError("csv needs path=FILE.csv") }
        let header = try o.bool("header")
        let labelColumn = o.string("label")
        let separator = o.string("separator")
        guard let sepByte = separator.utf8.first, separator.utf8.count == 1 else {
            throw EngineError("separator=\(separator) must be one ASCII character")
        }
        let limit = o.has("limit") ? try o.int("limit", min: 1) : Int.max
        // Read as the bytes come: memory holds the numbers, not the file's text.
        let table = try CSVTable.read(path: path, label: labelColumn, header: header, separator: sepByte, limit: limit)
        return FloatDataset(summary: "csv \((path as NSString).lastPathComponent) (\(table.rows) rows, \(table.features) features, \(table.classNames.count) classes)",
                            sampleShape: [table.features], classNames: table.classNames, values: table.values, labels: table.labels)
    }
}
