import CZlib
import Synchronization

/// An image folder too large to keep decoded in memory: its files are decoded again for each
/// batch that draws them, on every core (as torchvision's ImageFolder does each epoch), so
/// memory stays at a batch. Every file was decoded once when the folder was read, to leave out
/// those that do not decode and to fingerprint the rest; a file that stops decoding later (it
/// changed on disk) gives a sample of zeros and one warning.
public final class StreamedImageFolder: Dataset {
    public let summary: String
    public let sampleShape: [Int]
    public let classNames: [String]
    public let files: [String]
    public let labels: [UInt8]
    /// A CRC-32 of each file's bytes, taken when the folder was read.
    private let fileChecksums: [UInt32]
    private let warn: @Sendable (String) -> Void
    private let warned = Atomic<Bool>(false)

    init(summary: String, sampleShape: [Int], classNames: [String], files: [String], labels: [UInt8], fileChecksums: [UInt32],
         warn: @escaping @Sendable (String) -> Void) {
        self.summary = summary
        self.sampleShape = sampleShape
        self.classNames = classNames
        self.files = files
        self.labels = labels
        self.fileChecksums = fileChecksums
        self.warn = warn
    }

    public var count: Int { files.count }
    public var fillsConcurrently: Bool { true }

    /// Over the files' checksums and the labels (reading every file again would take an epoch).
    public var checksum: UInt32 {
        var crc = fileChecksums.withUnsafeBytes { crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
        crc = labels.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// A CRC-32 of a file's bytes.
    static func checksum(of bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// The image of file `index`, [channels, H, W] bytes.
    public func image(_ index: Int) throws -> [UInt8] {
        try ImageFolder.decode(files[index], channels: sampleShape[0], height: sampleShape[1], width: sampleShape[2])
    }

    public func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) {
        let w = features
        for (r, index) in indices.enumerated() {
            out[r] = Int32(labels[Int(index)])
            do {
                let bytes = try image(Int(index))
                bytes.withUnsafeBufferPointer { Kernels.bytesToUnit($0.baseAddress!, x + r * w, w) }
            } catch {
                (x + r * w).update(repeating: 0, count: w)
                if !warned.exchange(true, ordering: .relaxed) {
                    warn("images: \((error as? EngineError)?.message ?? "\(files[Int(index)]): \(error)") (it decoded when the folder was read; its sample is zeros)")
                }
            }
        }
    }
}
