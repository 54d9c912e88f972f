/// A row-major Float32 matrix of `rows` samples by `cols` features, the one tensor type the
/// engine computes with. Its storage grows but never shrinks, so a layer that reshapes its
/// buffers for each batch allocates only when a batch is larger than any before it.
public final class Tensor {
    public private(set) var rows: Int
    public private(set) var cols: Int
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int

    public init(rows: Int = 0, cols: Int = 0) {
        self.rows = rows
        self.cols = cols
        capacity = max(rows * cols, 1)
        data = .allocate(capacity: capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "Tensor: \(values.count) values for \(rows)x\(cols)")
        self.init(rows: rows, cols: cols)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { data.deallocate() }

    public var count: Int { rows * cols }

    /// Sets the shape, keeping the storage when it is large enough. Contents are unspecified.
    public func reshape(rows: Int, cols: Int) {
        let needed = rows * cols
        if needed > capacity {
            data.deallocate()
            capacity = needed
            data = .allocate(capacity: needed)
            data.initialize(repeating: 0, count: needed)
        }
        self.rows = rows
        self.cols = cols
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        reshape(rows: other.rows, cols: other.cols)
        data.update(from: other.data, count: count)
    }

    public subscript(row: Int, col: Int) -> Float {
        get { data[row * cols + col] }
        set { data[row * cols + col] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func row(_ r: Int) -> UnsafeMutablePointer<Float> { data + r * cols }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(rows)x\(cols))" }
}
