internal import CPrefetch
import CZlib

/// A set of labelled samples that a batch loader draws from.
public protocol Dataset: AnyObject {
    /// What it is, for messages and `data` listings ("mnist train (60000 images)").
    var summary: String { get }
    var count: Int { get }
    /// The shape of one sample ([1, 28, 28] for MNIST).
    var sampleShape: [Int] { get }
    var classNames: [String] { get }

    /// Writes the samples at `indices` as rows of floats into `x` and their labels into `labels`.
    func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>)

    /// Whether `fill` may run on several threads at once for disjoint parts of a batch (it
    /// only reads the data set). False unless a data set says so.
    var fillsConcurrently: Bool { get }

    /// A CRC-32 of the samples and labels, to tell data sets apart in the run history.
    var checksum: UInt32 { get }
}

extension Dataset {
    public var fillsConcurrently: Bool { false }

    /// Over the samples as floats and the labels, 1,024 samples at a time.
    public var checksum: UInt32 {
        var crc = crc32(0, nil, 0)
        let chunk = 1024, width = features
        let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk * width), y = UnsafeMutablePointer<Int32>.allocate(capacity: chunk)
        defer { x.deallocate(); y.deallocate() }
        var first = 0
        while first < count {
            let n = min(chunk, count - first)
            let indices = (first..<(first + n)).map { Int32($0) }
            indices.withUnsafeBufferPointer { fill(indices: $0, x: x, labels: y) }
            crc = crc32(crc, UnsafeRawPointer(x).assumingMemoryBound(to: Bytef.self), uInt(n * width * 4))
            crc = crc32(crc, UnsafeRawPointer(y).assumingMemoryBound(to: Bytef.self), uInt(n * 4))
            first += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
    public var features: Int { sampleShape.reduce(1, *) }
    public var classes: Int { classNames.count }
}

/// Images kept as bytes (as in the file) and scaled by 1/255 one batch at a time, as
/// torchvision's ToTensor does.
public final class ByteImageDataset: Dataset {
    public let summary: String
    public let sampleShape: [Int]
    public let classNames: [String]
    /// The images, one after another, as the file holds them (on huge pages when possible).
    private let pixels: HugePageBytes
    public let labels: [UInt8]
    private let width: Int

    /// Over the image bytes and the labels as the files hold them (quicker than as floats).
    public var checksum: UInt32 {
        var crc = crc32(0, pixels.base, uInt(pixels.count))
        crc = labels.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        return UInt32(truncatingIfNeeded: crc)
    }

    public init(summary: String, sampleShape: [Int], classNames: [String], images: [UInt8], labels: [UInt8]) {
        self.summary = summary
        self.sampleShape = sampleShape
        self.classNames = classNames
        pixels = HugePageBytes(images)
        self.labels = labels
        width = sampleShape.reduce(1, *)
    }

    /// The bytes of image `index`.
    public func image(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: pixels.base + index * width, count: width)
    }

    public var count: Int { labels.count }
    public var fillsConcurrently: Bool { true }
    /// How many images ahead `fill` prefetches.
    static let prefetchDistance = 4

    public func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) {
        let w = width
        let img = pixels.base
        labels.withUnsafeBufferPointer { lab in
            // The images of a shuffled batch are far apart: ask for a few ahead.
            for index in indices.prefix(Self.prefetchDistance) { mlpsh_prefetch(img + Int(index) * w, w) }
            for (r, index) in indices.enumerated() {
                if r + Self.prefetchDistance < indices.count {
                    mlpsh_prefetch(img + Int(indices[r + Self.prefetchDistance]) * w, w)
                }
                Kernels.bytesToUnit(img + Int(index) * w, x + r * w, w)
                out[r] = Int32(lab[Int(index)])
            }
        }
    }
}

/// Samples kept as floats (generated data, plugins' readers).
public final class FloatDataset: Dataset {
    public let summary: String
    public let sampleShape: [Int]
    public let classNames: [String]
    public let values: [Float]
    public let labels: [Int32]

    public init(summary: String, sampleShape: [Int], classNames: [String], values: [Float], labels: [Int32]) {
        self.summary = summary
        self.sampleShape = sampleShape
        self.classNames = classNames
        self.values = values
        self.labels = labels
    }

    public var count: Int { labels.count }
    public var fillsConcurrently: Bool { true }

    public func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) {
        let w = features
        values.withUnsafeBufferPointer { v in
            for (r, index) in indices.enumerated() {
                (x + r * w).update(from: v.baseAddress! + Int(index) * w, count: w)
                out[r] = labels[Int(index)]
            }
        }
    }
}

/// What a dataset's factory is given: its options and the random source (see `Arguments`).
public typealias DatasetArguments = Arguments
