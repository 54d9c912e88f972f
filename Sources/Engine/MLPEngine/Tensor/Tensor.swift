/// A row-major Float32 tensor of any rank, the batch first: `shape[0]` samples (`rows`), each
/// of `cols` = `count(from: 1)` values, as Caffe's Blob counts its axes. A batch of MNIST
/// images is [B, 1, 28, 28]; a layer that only needs rows of features reads `rows` and `cols`.
///
/// A tensor either owns its storage, which grows but never shrinks (so a layer that reshapes
/// its buffers for each batch allocates only when a batch is larger than any before it), or
/// is a fixed-size view into a `FlatStorage` (a model's parameters and gradients).
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int
    /// The storage this tensor views, kept alive by it; nil when the tensor owns `data`.
    private var storage: FlatStorage?

    /// A tensor of `shape`, zeroed. The empty shape is a scalar of one value.
    public init(shape: [Int]) {
        self.shape = shape
        capacity = max(Tensor.product(shape), 1)
        data = .allocate(capacity: capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    /// A matrix of `rows` samples by `cols` features.
    public convenience init(rows: Int = 0, cols: Int = 0) { self.init(shape: [rows, cols]) }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(rows: Int, cols: Int, values: [Float]) {
        self.init(shape: [rows, cols], values: values)
    }

    deinit { if storage == nil { data.deallocate() } }

    /// The number of values.
    public var count: Int { Tensor.product(shape) }
    /// The number of samples: the first axis (1 for a scalar).
    public var rows: Int { shape.first ?? 1 }
    /// Values a sample: the product of the axes after the first.
    public var cols: Int { count(from: 1) }
    /// The product of the axes from `axis` on (Blob::count(start_axis)).
    public func count(from axis: Int) -> Int { Tensor.product(shape.dropFirst(axis)) }
    /// The shape of one sample: the axes after the first.
    public var sampleShape: [Int] { Array(shape.dropFirst()) }

    static func product<C: Collection>(_ dims: C) -> Int where C.Element == Int { dims.reduce(1, *) }

    /// Sets the shape, keeping the storage when it is large enough. Contents are unspecified.
    /// A view's count cannot change.
    public func reshape(_ newShape: [Int]) {
        let needed = Tensor.product(newShape)
        if needed > capacity {
            precondition(storage == nil, "a view of \(capacity) values cannot be reshaped to \(newShape)")
            data.deallocate()
            capacity = needed
            data = .allocate(capacity: needed)
            data.initialize(repeating: 0, count: needed)
        }
        shape = newShape
    }

    /// Sets the shape to `rows` samples by `cols` features.
    public func reshape(rows: Int, cols: Int) { reshape([rows, cols]) }

    /// Sets the shape to `rows` samples of `sample` shape.
    public func reshape(rows: Int, sample: [Int]) { reshape([rows] + sample) }

    /// Makes this tensor a view of `count` values at `offset` in `storage`, after copying its
    /// values there. Its own storage is freed.
    func moveInto(_ storage: FlatStorage, offset: Int) {
        let target = storage.base + offset
        target.update(from: data, count: count)
        if self.storage == nil { data.deallocate() }
        data = target
        capacity = count
        self.storage = storage
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    public func copy(from other: Tensor) {
        reshape(other.shape)
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
    public var description: String { "Tensor(" + shape.map(String.init).joined(separator: "x") + ")" }
}

/// One allocation of floats that many tensors view: a model's parameters, or their gradients,
/// as one flat buffer (Caffe's learnable_params), so an optimizer or an allreduce sees one range.
public final class FlatStorage {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { base.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }
    public func fill(_ value: Float) { base.update(repeating: value, count: count) }
}
