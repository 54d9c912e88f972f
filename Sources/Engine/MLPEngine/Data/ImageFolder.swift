import Foundation
import Synchronization

/// A folder of images a class, as torchvision's ImageFolder reads it: each subfolder is a
/// class, classes numbered in the sorted order of their names (`class_to_idx`), the files of a
/// class found by walking its folder (links followed, each folder once) in sorted order.
/// Files named .png, .jpg, .jpeg or .pgm are the samples (others are left out, and said so);
/// each is decoded (Picture), resized to the sample size with an antialiased bilinear filter
/// (PIL's BILINEAR), and kept in memory as bytes, scaled to [0, 1] a batch at a time. The
/// decoding runs on every core. A file that does not decode is skipped with its name and
/// reason (`on_error=skip`) or refuses the whole folder (`on_error=fail`).
public enum ImageFolder {
    /// The most bytes the decoded samples may take in memory (4 GiB): a larger folder is
    /// refused with the number; it is not streamed from disk.
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

    /// Reads the folder: its samples [channels, H, W] (H, W from `size`, else the first
    /// image's), their labels and the class names. `warn` is told what was left out.
    public static func load(path: String, size: (Int, Int)?, channels: Int, skipBad: Bool,
                            warn: (String) -> Void) throws -> ByteImageDataset {
        let listing = try list(path)
        if !listing.others.isEmpty {
            warn("images: \(listing.others.count) file\(listing.others.count == 1 ? "" : "s") in \(path) that are not .png, .jpg, .jpeg or .pgm left out (first: \(listing.others[0]))")
        }
        func decode(_ i: Int) throws -> Picture {
            let file = listing.files[i].path
            return try Picture.decode(try readFileBytes(file, limit: maximumFileBytes, inflate: false), name: file, channels: channels)
        }
        // The sample size: given, or the first image's that decodes.
        var (h, w) = size ?? (0, 0)
        if size == nil {
            for i in listing.files.indices {
                if let p = try? decode(i) { (h, w) = (p.height, p.width); break }
            }
            guard h > 0 else { throw EngineError("images: no file in \(path) decodes") }
        }
        let sample = channels * h * w, n = listing.files.count
        let (bytes, overflow) = sample.multipliedReportingOverflow(by: n)
        guard !overflow, bytes <= maximumBytes else {
            throw EngineError("images: \(n) images of [\(channels), \(h), \(w)] take \(overflow ? "more than \(Int.max)" : String(bytes)) bytes, more than the \(maximumBytes) mlpsh keeps in memory: give a smaller size=")
        }
        var images = [UInt8](repeating: 0, count: bytes)
        var failures = [String?](repeating: nil, count: n)
        let pieces = max(1, min(Parallel.shared.ways, n))
        let next = Atomic<Int>(0)
        images.withUnsafeMutableBufferPointer { out in
            failures.withUnsafeMutableBufferPointer { failed in
                let out = out.baseAddress!, failed = failed.baseAddress!
                Parallel.shared.run(pieces) { _ in
                    while true {
                        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard i < n else { return }
                        do {
                            let picture = try decode(i).resized(width: w, height: h).planar
                            picture.withUnsafeBufferPointer { (out + i * sample).update(from: $0.baseAddress!, count: sample) }
                        } catch let e as EngineError {
                            (failed + i).pointee = e.message
                        } catch {
                            (failed + i).pointee = "\(listing.files[i].path): \(error)"
                        }
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
        var labels = [UInt8](), kept = [UInt8]()
        if keep.count == n {
            kept = images
        } else {
            kept.reserveCapacity(keep.count * sample)
            for i in keep { kept.append(contentsOf: images[(i * sample)..<((i + 1) * sample)]) }
        }
        labels = keep.map { UInt8(listing.files[$0].label) }
        // Each class with its images: "0 (5923), 1 (6742), …".
        var counts = [Int](repeating: 0, count: listing.classes.count)
        for l in labels { counts[Int(l)] += 1 }
        let named = zip(listing.classes, counts).map { "\($0) (\($1))" }
        let names = named.count <= 6 ? named.joined(separator: ", ") : named.prefix(5).joined(separator: ", ") + ", …"
        return ByteImageDataset(summary: "images \(path) (\(keep.count) images [\(channels), \(h), \(w)], \(listing.classes.count) classes: \(names))",
                                sampleShape: [channels, h, w], classNames: listing.classes, images: kept, labels: labels)
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
        return try load(path: o.string("path"), size: size, channels: channels, skipBad: mode == "skip", warn: a.warn)
    }

    public static let entry = RegistryEntry<DatasetFactory>(
        name: "images", summary: "a folder of images, one subfolder a class (as torchvision's ImageFolder)",
        options: [OptionSpec("path", "", "the folder: one subfolder a class, holding .png, .jpg, .jpeg or .pgm files"),
                  OptionSpec("size", "", "H,W (or N) every image is resized to; the first image's size by default"),
                  OptionSpec("channels", "1", "1: grey, 3: RGB"),
                  OptionSpec("on_error", "skip", "a file that does not decode: skip (and say so) or fail")],
        details: "Classes are numbered in the sorted order of their folders' names, as torchvision's class_to_idx.\nImages are resized with an antialiased bilinear filter (PIL's BILINEAR, torchvision's Resize) and\nscaled to [0, 1]; they are decoded once, on every core, and kept in memory (at most 4 GiB).",
        example: "data train images path=photos size=64,64 channels=3", make: make)
}
