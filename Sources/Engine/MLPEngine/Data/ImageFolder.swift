import Foundation
import Synchronization

/// A folder of images a class, as torchvision's ImageFolder reads it: each subfolder is a
/// class, classes numbered in the sorted order of their names (`class_to_idx`), the files of a
/// class found by walking its folder (links followed, each folder once) in sorted order.
/// Files named .png, .jpg, .jpeg or .pgm are the samples (others are left out, and said so);
/// each is decoded (Picture), resized to the sample size with an antialiased bilinear filter
/// (PIL's BILINEAR), and kept in memory as bytes, scaled to [0, 1] a batch at a time; a folder
/// whose images take more than `memory` bytes decoded is streamed instead (StreamedImageFolder).
/// The decoding runs on every core. A file that does not decode is skipped with its name and
/// reason (`on_error=skip`) or refuses the whole folder (`on_error=fail`).
public enum ImageFolder {
    /// The most bytes the decoded samples take in memory by default (4 GiB, the option
    /// memory=): a larger folder is decoded from disk a batch at a time.
    public static let maximumBytes = 1 << 32
    /// The most files a folder may hold, and the most bytes one file may have.
    public static let maximumFiles = 1 << 24, maximumFileBytes = 1 << 26
    static let extensions: Set<String> = ["png", "jpg", "jpeg", "pgm"]

    public struct Listing {
        public var classes: [String] = []
        public var files: [(path: String, label: Int)] = []
        /// Files with other extensions, left out.
        public var others: [String] = []
    }

    /// The classes and files of `path`, in torchvision's order.
    public static func list(_ path: String) throws -> Listing {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EngineError("images: \(path) is not a folder")
        }
        var listing = Listing()
        listing.classes = try entries(path).filter { isFolder(path + "/" + $0) }
        guard !listing.classes.isEmpty else {
            throw EngineError("images: \(path) has no class folders (one subfolder a class, each holding that class's images)")
        }
        guard listing.classes.count >= 2 else {
            throw EngineError("images: \(path) has one class folder ('\(listing.classes[0])'): a classifier needs at least two")
        }
        guard listing.classes.count <= 256 else { throw EngineError("images: \(path) has \(listing.classes.count) classes, more than the 256 mlpsh takes") }
        for (label, name) in listing.classes.enumerated() {
            var seen = Set<[UInt64]>()
            var folders: [(String, [String])] = []
            try walk(path + "/" + name, seen: &seen, into: &folders)
            for (root, names) in folders.sorted(by: { less($0.0, $1.0) }) {
                for file in names {
                    let ext = (file as NSString).pathExtension.lowercased()
                    if extensions.contains(ext) { listing.files.append((root + "/" + file, label)) } else { listing.others.append(root + "/" + file) }
                    guard listing.files.count <= maximumFiles else { throw EngineError("images: \(path) holds more than \(maximumFiles) files") }
                }
            }
        }
        guard !listing.files.isEmpty else { throw EngineError("images: the class folders of \(path) hold no .png, .jpg, .jpeg or .pgm files") }
        return listing
    }

    /// Python's sorted order: by Unicode scalars.
    static func less(_ a: String, _ b: String) -> Bool { a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }

    static func entries(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted(by: less)
        } catch {
            throw EngineError("images: \(path) cannot be read (\(error.localizedDescription))")
        }
    }

    static func isFolder(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Every folder under `path` (itself first) with its file names, each folder once even
    /// through links that loop (os.walk(followlinks=True) would loop; a folder met again is
    /// skipped).
    static func walk(_ path: String, seen: inout Set<[UInt64]>, into folders: inout [(String, [String])]) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        guard seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted, seen.count < 100_000 else { return }
        var files: [String] = [], subfolders: [String] = []
        for name in try entries(path) {
            var s = stat()
            guard stat(path + "/" + name, &s) == 0 else { continue }
            switch s.st_mode & S_IFMT {
            case S_IFDIR: subfolders.append(name)
            case S_IFREG: files.append(name)
            default: continue
            }
        }
        folders.append((path, files))
        for sub in subfolders { try walk(path + "/" + sub, seen: &seen, into: &folders) }
    }

    /// One file decoded, resized and laid out as a sample: [channels, height, width] bytes.
    static func decode(_ file: String, channels: Int, height: Int, width: Int) throws -> [UInt8] {
        try Picture.decode(try readFileBytes(file, limit: maximumFileBytes, inflate: false), name: file, channels: channels)
            .resized(width: width, height: height).planar
    }

    /// Runs `body` on each of `n` files, on every core; returns why each that threw failed.
    static func forEachFile(_ n: Int, path: @escaping (Int) -> String, _ body: @escaping (Int) throws -> Void) -> [String?] {
        var failures = [String?](repeating: nil, count: n)
        let next = Atomic<Int>(0)
        failures.withUnsafeMutableBufferPointer { failed in
            let failed = failed.baseAddress!
            Parallel.shared.run(max(1, min(Parallel.shared.ways, n))) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < n else { return }
                    do {
                        try body(i)
                    } catch let e as EngineError {
                        (failed + i).pointee = e.message
                    } catch {
                        (failed + i).pointee = "\(path(i)): \(error)"
                    }
                }
            }
        }
        return failures
    }

    /// Reads the folder: its samples [channels, H, W] (H, W from `size`, else the first
    /// image's), their labels and the class names. Kept decoded in memory when they take at
    /// most `memory` bytes, else decoded from disk a batch at a time (StreamedImageFolder).
    /// `warn` is told what was left out.
    public static func load(path: String, size: (Int, Int)?, channels: Int, skipBad: Bool, memory: Int = maximumBytes,
                            warn: @escaping @Sendable (String) -> Void) throws -> Dataset {
        let listing = try list(path)
        if !listing.others.isEmpty {
            warn("images: \(listing.others.count) file\(listing.others.count == 1 ? "" : "s") in \(path) that are not .png, .jpg, .jpeg or .pgm left out (first: \(listing.others[0]))")
        }
        let files = listing.files
        // The sample size: given, or the first image's that decodes.
        var (h, w) = size ?? (0, 0)
        if size == nil {
            for (file, _) in files {
                if let p = try? Picture.decode(try readFileBytes(file, limit: maximumFileBytes, inflate: false), name: file, channels: channels) {
                    (h, w) = (p.height, p.width)
                    break
                }
            }
            guard h > 0 else { throw EngineError("images: no file in \(path) decodes") }
        }
        let sample = channels * h * w, n = files.count
        let (bytes, overflow) = sample.multipliedReportingOverflow(by: n)
        let inMemory = !overflow && bytes <= memory
        // In memory: every image decoded into its place. Streamed: every image decoded once to
        // check it, and its file's bytes fingerprinted; only one image a core is held at a time.
        var images = [UInt8](repeating: 0, count: inMemory ? bytes : 0)
        var checksums = [UInt32](repeating: 0, count: inMemory ? 0 : n)
        let failures = images.withUnsafeMutableBufferPointer { out in
            checksums.withUnsafeMutableBufferPointer { sums in
                let out = out.baseAddress, sums = sums.baseAddress
                return forEachFile(n, path: { files[$0].path }) { i in
                    if inMemory {
                        let picture = try decode(files[i].path, channels: channels, height: h, width: w)
                        picture.withUnsafeBufferPointer { (out! + i * sample).update(from: $0.baseAddress!, count: sample) }
                    } else {
                        let raw = try readFileBytes(files[i].path, limit: maximumFileBytes, inflate: false)
                        _ = try Picture.decode(raw, name: files[i].path, channels: channels).resized(width: w, height: h)
                        sums![i] = StreamedImageFolder.checksum(of: raw)
                    }
                }
            }
        }
        let bad = failures.indices.filter { failures[$0] != nil }
        if let first = bad.first {
            guard skipBad else {
                throw EngineError("images: \(failures[first]!)\(bad.count > 1 ? " (and \(bad.count - 1) more)" : ""); on_error=skip leaves such files out")
            }
            for i in bad.prefix(10) { warn("images: skipped \(failures[i]!)") }
            if bad.count > 10 { warn("images: skipped \(bad.count - 10) more files that do not decode") }
        }
        let keep = failures.indices.filter { failures[$0] == nil }
        guard !keep.isEmpty else { throw EngineError("images: no file in \(path) decodes") }
        let labels = keep.map { UInt8(files[$0].label) }
        // Each class with its images: "0 (5923), 1 (6742), …".
        var counts = [Int](repeating: 0, count: listing.classes.count)
        for l in labels { counts[Int(l)] += 1 }
        let named = zip(listing.classes, counts).map { "\($0) (\($1))" }
        let names = named.count <= 6 ? named.joined(separator: ", ") : named.prefix(5).joined(separator: ", ") + ", …"
        let summary = "images \(path) (\(keep.count) images [\(channels), \(h), \(w)], \(listing.classes.count) classes: \(names)"
        guard inMemory else {
            return StreamedImageFolder(summary: summary + "; decoded from disk each batch: \(overflow ? "more than \(Int.max)" : byteSize(bytes)) is over memory=\(byteSize(memory)))",
                                       sampleShape: [channels, h, w], classNames: listing.classes, files: keep.map { files[$0].path },
                                       labels: labels, fileChecksums: keep.map { checksums[$0] }, warn: warn)
        }
        var kept = [UInt8]()
        if keep.count == n {
            kept = images
        } else {
            kept.reserveCapacity(keep.count * sample)
            for i in keep { kept.append(contentsOf: images[(i * sample)..<((i + 1) * sample)]) }
        }
        return ByteImageDataset(summary: summary + ")", sampleShape: [channels, h, w], classNames: listing.classes, images: kept, labels: labels)
    }

    /// "4G", "512M", "64K" or a number of bytes.
    static func parseByteSize(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased()), scale = 1
        if digits.hasSuffix("B") { digits = digits.dropLast() }
        if let last = digits.last, let unit = units[last] { scale = unit; digits = digits.dropLast() }
        guard let value = Int(digits), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    /// Bytes as the largest whole unit: "4G", "1536M", "100".
    static func byteSize(_ bytes: Int) -> String {
        for (unit, scale) in [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes >= scale && bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        for (unit, scale) in [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes >= scale {
            return String(format: "%.1f", Double(bytes) / Double(scale)) + unit
        }
        return "\(bytes)"
    }

    static func make(_ a: Arguments) throws -> Dataset {
        let o = a.options
        guard o.has("path") else { throw EngineError("images needs path=DIR: a folder with one subfolder a class") }
        var size: (Int, Int)?
        if o.has("size") {
            size = try layerPair(o.string("size"), "size", layer: "images", usage: "data NAME images path=DIR [size=H,W]", min: 1, max: 4096)
        }
        let channels = try o.int("channels", min: 1, max: 3)
        guard channels != 2 else { throw EngineError("images: channels=2 is not 1 (grey) or 3 (RGB)") }
        let mode = o.string("on_error")
        guard mode == "skip" || mode == "fail" else { throw EngineError("images: on_error=\(mode) is not skip or fail") }
        guard let memory = parseByteSize(o.string("memory")) else {
            throw EngineError("images: memory=\(o.string("memory")) is not a size such as 4G, 512M or 100000")
        }
        let warn = a.warn
        return try load(path: o.string("path"), size: size, channels: channels, skipBad: mode == "skip", memory: memory,
                        warn: { warn($0) })
    }

    public static let entry = RegistryEntry<DatasetFactory>(
        name: "images", summary: "a folder of images, one subfolder a class (as torchvision's ImageFolder)",
        options: [OptionSpec("path", "", "the folder: one subfolder a class, holding .png, .jpg, .jpeg or .pgm files"),
                  OptionSpec("size", "", "H,W (or N) every image is resized to; the first image's size by default"),
                  OptionSpec("channels", "1", "1: grey, 3: RGB"),
                  OptionSpec("on_error", "skip", "a file that does not decode: skip (and say so) or fail"),
                  OptionSpec("memory", "4G", "the most the decoded images may take in memory; a larger folder is decoded from disk each batch")],
        details: "Classes are numbered in the sorted order of their folders' names, as torchvision's class_to_idx.\nImages are resized with an antialiased bilinear filter (PIL's BILINEAR, torchvision's Resize) and\nscaled to [0, 1]; they are decoded once, on every core, and kept in memory when they fit in memory=\n(4G); a larger folder is checked once and then decoded from disk a batch at a time.",
        example: "data train images path=photos size=64,64 channels=3", make: make)
}
