import Foundation

/// MNIST and Fashion-MNIST from their four IDX files (plain or .gz).
///
/// The folder is the first of: `path=`, `$MLPSH_DATA/<name>`, `./data/<name>`, and for
/// Fashion-MNIST `/usr/share/datasets/fashion-mnist` (Debian's dataset-fashion-mnist).
public enum MNISTLoader {
    public static let digitNames = (0...9).map(String.init)
    public static let fashionNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The folders searched, in order, for data set `name` ("mnist" or "fashion_mnist").
    public static func searchPath(name: String, explicit: String?) -> [String] {
        if let explicit { return [explicit] }
        var dirs: [String] = []
        if let root = ProcessInfo.processInfo.environment["MLPSH_DATA"], !root.isEmpty {
            dirs.append((root as NSString).appendingPathComponent(name))
        }
        dirs.append("data/\(name)")
        if name == "fashion_mnist" { dirs.append("/usr/share/datasets/fashion-mnist") }
        return dirs
    }

    /// Finds `stem` (e.g. "train-images-idx3-ubyte") in `dir`, gzipped or not.
    static func find(_ stem: String, in dir: String) -> String? {
        for candidate in [stem + ".gz", stem] {
            let p = (dir as NSString).appendingPathComponent(candidate)
            // Present is enough: a file that cannot be read is reported as such when read.
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// Loads one split of `name` ("mnist" or "fashion_mnist") for use from Swift: `path` is
    /// the folder (else the search path), `limit` keeps the first samples.
    public static func load(name: String = "mnist", split: String, path: String? = nil, limit: Int? = nil) throws -> Dataset {
        var values = ["split": split]
        if let path { values["path"] = path }
        if let limit { values["limit"] = String(limit) }
        let entry = try Registries.shared.datasets.lookup(name)
        return try load(name: name, options: try Options(values, specs: entry.options, owner: name))
    }

    public static func load(name: String, options o: Options) throws -> Dataset {
        let split = o.string("split")
        guard split == "train" || split == "test" else {
            throw EngineError("split=\(split) for '\(name)' is not train or test")
        }
        let prefix = split == "train" ? "train" : "t10k"
        let limit = o.has("limit") ? try o.int("limit", min: 1) : nil
        let explicit = o.has("path") ? o.string("path") : nil
        let dirs = searchPath(name: name, explicit: explicit)
        var chosen: (String, String)?
        for dir in dirs {
            if let images = find("\(prefix)-images-idx3-ubyte", in: dir),
               let labels = find("\(prefix)-labels-idx1-ubyte", in: dir) {
                chosen = (images, labels)
                break
            }
        }
        guard let (imagePath, labelPath) = chosen else {
            let hint = name == "mnist" ? " (run scripts/fetch-mnist, or set MLPSH_DATA or path=)"
                                       : " (install Debian's dataset-fashion-mnist, or set MLPSH_DATA or path=)"
            throw EngineError("\(name): no \(prefix)-images-idx3-ubyte[.gz] with its labels in \(dirs.joined(separator: ", "))\(hint)")
        }
        let images = try IDXArray(path: imagePath)
        let labels = try IDXArray(path: labelPath)
        guard images.dimensions.count == 3 else {
            throw EngineError("\(imagePath): expected 3 dimensions (count, rows, cols), found \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw EngineError("\(labelPath): expected 1 dimension (count), found \(labels.dimensions.count)")
        }
        let n = images.dimensions[0], rows = images.dimensions[1], cols = images.dimensions[2]
        guard labels.dimensions[0] == n else {
            throw EngineError("\(name) \(split): \(n) images in \(imagePath) but \(labels.dimensions[0]) labels in \(labelPath)")
        }
        if let bad = labels.bytes.firstIndex(where: { $0 > 9 }) {
            throw EngineError("\(labelPath): label \(labels.bytes[bad]) at index \(bad) is not a class 0-9")
        }
        let keep = min(n, limit ?? n)
        let names = name == "fashion_mnist" ? fashionNames : digitNames
        return ByteImageDataset(
            summary: "\(name) \(split) (\(keep) images \(rows)x\(cols), \(names.count) classes)",
            sampleShape: [1, rows, cols], classNames: names,
            images: Array(images.bytes.prefix(keep * rows * cols)), labels: Array(labels.bytes.prefix(keep)))
    }
}

// MARK: - Its registry entry

extension MNISTLoader {
    private static let options = [OptionSpec("split", "train", "train or test"), OptionSpec("path", "", "the folder holding the IDX files"),
                                  OptionSpec("limit", "", "keep only the first N samples")]
    public static let entry = RegistryEntry<DatasetFactory>(name: "mnist", summary: "handwritten digits, 28x28 grey (60,000 train, 10,000 test)",
            options: options,
            details: "Searched in path=, then $MLPSH_DATA/mnist, then ./data/mnist; scripts/fetch-mnist gets the files.",
            example: "data train mnist split=train", make: { try MNISTLoader.load(name: "mnist", options: $0.options) })
    public static let fashionEntry = RegistryEntry<DatasetFactory>(name: "fashion_mnist", summary: "Zalando's clothing images, 28x28 grey, 10 classes",
            options: options,
            details: "Searched in path=, then $MLPSH_DATA/fashion_mnist, ./data/fashion_mnist and /usr/share/datasets/fashion-mnist\n(Debian's dataset-fashion-mnist).",
            example: "data train fashion_mnist split=train", make: { try MNISTLoader.load(name: "fashion_mnist", options: $0.options) })
}
