import Foundation

/// Bytes in memory aligned to 2 MiB and marked for transparent huge pages, for data read at
/// random places (a shuffled data set): with 4 KiB pages each sample a batch reads is a TLB
/// miss of its own. Where huge pages are not available this is ordinary memory.
final class HugePageBytes {
    let base: UnsafeMutablePointer<UInt8>
    let count: Int
    static let alignment = 2 << 20

    init(_ bytes: [UInt8]) {
        count = bytes.count
        let size = max(1, (bytes.count + Self.alignment - 1) / Self.alignment * Self.alignment)
        var raw: UnsafeMutableRawPointer?
        if posix_memalign(&raw, Self.alignment, size) != 0 || raw == nil {
            raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        }
        #if os(Linux)
        if size >= Self.alignment { _ = madvise(raw, size, MADV_HUGEPAGE) }
        #endif
        base = raw!.bindMemory(to: UInt8.self, capacity: size)
        bytes.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: bytes.count) }
    }

    deinit { free(base) }
}
