import CPNG
import Foundation

/// An 8-bit grey image, row by row: what `predict` reads from a PNG or PGM file and turns
/// into one MNIST-like sample.
public struct GreyImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The largest image accepted, in pixels, so a hostile header cannot exhaust memory.
    public static let maximumPixels = 1 << 26

    /// Reads a PNG (any colour type or depth, through libpng) or a PGM (P2 or P5) file,
    /// chosen by the file's magic bytes.
    public static func read(path: String) throws -> GreyImage {
        let bytes = try readFileBytes(path, limit: 1 << 28, inflate: false)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(bytes, name: path) }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "2") || bytes[1] == UInt8(ascii: "5")) {
            return try decodePGM(bytes, name: path)
        }
        throw EngineError("\(path): not a PNG or PGM image")
    }

    /// Decodes PNG bytes to grey with libpng's simplified API (colour is converted by its
    /// luminance rule; transparency is composited on black).
    public static func decodePNG(_ bytes: [UInt8], name: String = "PNG") throws -> GreyImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw EngineError("\(name): not a readable PNG (\(pngMessage(&image)))") }
        let w = Int(image.width), h = Int(image.height)
        guard w > 0, h > 0, w.multipliedReportingOverflow(by: h).partialValue <= maximumPixels, w <= maximumPixels, h <= maximumPixels else {
            throw EngineError("\(name): \(w)x\(h) pixels is more than the \(maximumPixels) accepted")
        }
        image.format = UInt32(PNG_FORMAT_GRAY)
        var pixels = [UInt8](repeating: 0, count: w * h)
        var black = png_color(red: 0, green: 0, blue: 0)
        let finished = bytes.withUnsafeBytes { _ in
            pixels.withUnsafeMutableBytes { png_image_finish_read(&image, &black, $0.baseAddress, Int32(w), nil) }
        }
        guard finished != 0 else { throw EngineError("\(name): corrupt PNG (\(pngMessage(&image)))") }
        return GreyImage(width: w, height: h, pixels: pixels)
    }

    /// Encodes the image as an 8-bit grey PNG.
    public func pngData() throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_GRAY)
        defer { png_image_free(&image) }
        var size = 0
        // The first call measures; the second writes.
        guard pixels.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(width), nil) }) != 0 else {
            throw EngineError("cannot encode PNG (\(pngMessage(&image)))")
        }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { o in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, Int32(width), nil) }
        }
        guard ok != 0 else { throw EngineError("cannot encode PNG (\(pngMessage(&image)))") }
        return Array(out.prefix(size))
    }

    /// Decodes a binary (P5) or plain (P2) PGM, 8 or 16 bits a sample, scaled to 0...255.
    public static func decodePGM(_ bytes: [UInt8], name: String = "PGM") throws -> GreyImage {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "2") || bytes[1] == UInt8(ascii: "5") else {
            throw EngineError("\(name): not a PGM image (it starts with neither P2 nor P5)")
        }
        var i = 2
        func skipSpaceAndComments() {
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "#") {
                    while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) {
                    i += 1
                } else { return }
            }
        }
        func number(_ what: String) throws -> Int {
            skipSpaceAndComments()
            var v = 0, digits = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 9 {
                v = v * 10 + Int(bytes[i] - 0x30)
                i += 1
                digits += 1
            }
            guard digits > 0 else { throw EngineError("\(name): PGM header has no \(what)") }
            return v
        }
        let binary = bytes[1] == UInt8(ascii: "5")
        let w = try number("width"), h = try number("height"), maxval = try number("maximum value")
        guard w > 0, h > 0, w * h <= maximumPixels else {
            throw EngineError("\(name): a \(w)x\(h) PGM is empty or larger than \(maximumPixels) pixels")
        }
        guard (1...65535).contains(maxval) else { throw EngineError("\(name): PGM maximum value \(maxval) is not 1-65535") }
        var pixels = [UInt8](repeating: 0, count: w * h)
        let scale = { (v: Int) -> UInt8 in UInt8((min(v, maxval) * 255 + maxval / 2) / maxval) }
        if binary {
            i += 1 // the single whitespace after maxval
            let size = maxval < 256 ? 1 : 2
            guard bytes.count - min(i, bytes.count) >= w * h * size else {
                throw EngineError("\(name): PGM data is cut short (\(w)x\(h) needs \(w * h * size) bytes)")
            }
            for p in 0..<(w * h) {
                let v = size == 1 ? Int(bytes[i + p]) : Int(bytes[i + 2 * p]) << 8 | Int(bytes[i + 2 * p + 1])
                pixels[p] = scale(v)
            }
        } else {
            for p in 0..<(w * h) { pixels[p] = scale(try number("pixel \(p)")) }
        }
        return GreyImage(width: w, height: h, pixels: pixels)
    }

    /// The image resized to `w`x`h` by averaging the source area under each target pixel
    /// (a box filter, exact for shrinking; bilinear-like for growing).
    public func resized(width w: Int, height h: Int) -> GreyImage {
        if w == width && h == height { return self }
        var out = [UInt8](repeating: 0, count: w * h)
        let sx = Double(width) / Double(w), sy = Double(height) / Double(h)
        for ty in 0..<h {
            let y0 = Double(ty) * sy, y1 = y0 + sy
            for tx in 0..<w {
                let x0 = Double(tx) * sx, x1 = x0 + sx
                var sum = 0.0, area = 0.0
                var y = Int(y0)
                while Double(y) < y1 && y < height {
                    let cy = min(y1, Double(y + 1)) - max(y0, Double(y))
                    var x = Int(x0)
                    while Double(x) < x1 && x < width {
                        let cx = min(x1, Double(x + 1)) - max(x0, Double(x))
                        sum += Double(pixels[y * width + x]) * cx * cy
                        area += cx * cy
                        x += 1
                    }
                    y += 1
                }
                out[ty * w + tx] = UInt8(min(255, max(0, (sum / max(area, 1e-12)).rounded())))
            }
        }
        return GreyImage(width: w, height: h, pixels: out)
    }

    /// Whether the image is dark strokes on a light ground: its border is mostly light.
    public var isDarkOnLight: Bool {
        var sum = 0, n = 0
        for y in 0..<height {
            for x in 0..<width where y == 0 || x == 0 || y == height - 1 || x == width - 1 {
                sum += Int(pixels[y * width + x])
                n += 1
            }
        }
        return sum > 127 * n
    }

    public var inverted: GreyImage {
        GreyImage(width: width, height: height, pixels: pixels.map { 255 - $0 })
    }

    /// As MNIST draws digits: `width`x`height`, light strokes on black.
    public func mnistLike(width w: Int = 28, height h: Int = 28) -> GreyImage {
        let img = isDarkOnLight ? inverted : self
        return img.resized(width: w, height: h)
    }

    /// The pixels scaled to 0...1, as ToTensor does.
    public var floats: [Float] { pixels.map { Float($0) / 255 } }
}

private func pngMessage(_ image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
        let s = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        return s.isEmpty ? "libpng error" : s
    }
}
