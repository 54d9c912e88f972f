internal import CJPEG
import CPNG
import Foundation

/// An 8-bit image of one (grey) or three (RGB) channels, interleaved a pixel at a time, as
/// the files hold it: what an image folder is read into before it becomes samples.
public struct Picture: Equatable {
    public let width: Int, height: Int, channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && (channels == 1 || channels == 3) && pixels.count == width * height * channels)
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }

    /// Decodes a PNG (libpng: any colour type and depth, transparency composited on black),
    /// a JPEG (libjpeg-turbo) or a PGM, told apart by their first bytes, to `channels`
    /// channels (colour to grey by libpng's and libjpeg's luminance rules; grey to RGB by
    /// repeating it). Images of more than GreyImage.maximumPixels are refused before decoding.
    public static func decode(_ bytes: [UInt8], name: String, channels: Int) throws -> Picture {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(bytes, name: name, channels: channels) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try decodeJPEG(bytes, name: name, channels: channels) }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "2") || bytes[1] == UInt8(ascii: "5")) {
            let grey = try GreyImage.decodePGM(bytes, name: name)
            let picture = Picture(width: grey.width, height: grey.height, channels: 1, pixels: grey.pixels)
            return channels == 3 ? picture.asRGB : picture
        }
        throw EngineError("\(name): not a PNG, JPEG or PGM image")
    }

    static func decodePNG(_ bytes: [UInt8], name: String, channels: Int) throws -> Picture {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw EngineError("\(name): not a readable PNG") }
        let w = Int(image.width), h = Int(image.height), limit = GreyImage.maximumPixels
        guard w > 0, h > 0, w <= limit, h <= limit, w * h <= limit else {
            throw EngineError("\(name): \(w)x\(h) pixels is more than the \(limit) accepted")
        }
        image.format = channels == 3 ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
        var pixels = [UInt8](repeating: 0, count: w * h * channels)
        var black = png_color(red: 0, green: 0, blue: 0)
        let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, &black, $0.baseAddress, Int32(w * channels), nil) }
        guard finished != 0 else { throw EngineError("\(name): corrupt PNG") }
        return Picture(width: w, height: h, channels: channels, pixels: pixels)
    }

    static func decodeJPEG(_ bytes: [UInt8], name: String, channels: Int) throws -> Picture {
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            mlpsh_jpeg_decode(b.baseAddress, b.count, GreyImage.maximumPixels, Int32(channels), &out, &w, &h, &message, message.count)
        }
        guard status == 0, let out else {
            throw EngineError("\(name): not a readable JPEG (\(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
        defer { mlpsh_jpeg_free(out) }
        return Picture(width: Int(w), height: Int(h), channels: channels,
                       pixels: Array(UnsafeBufferPointer(start: out, count: Int(w) * Int(h) * channels)))
    }

    /// A grey picture as RGB (each value three times).
    var asRGB: Picture {
        Picture(width: width, height: height, channels: 3, pixels: pixels.flatMap { [$0, $0, $0] })
    }

    /// The picture resized to `w`x`h` with an antialiased bilinear (triangle) filter, as PIL's
    /// `resize(..., Image.BILINEAR)` and torchvision's Resize(antialias=True) compute it: a
    /// separable pass along rows then columns, the filter widened by the scale when shrinking
    /// so every source pixel counts, each pass rounded to 8 bits.
    public func resized(width w: Int, height h: Int) -> Picture {
        if w == width && h == height { return self }
        let c = channels
        // Along the rows: width → w.
        let across = Self.coefficients(from: width, to: w)
        var rows = [UInt8](repeating: 0, count: w * height * c)
        for y in 0..<height {
            for x in 0..<w {
                let (first, weights) = across[x]
                for ch in 0..<c {
                    var s: Float = 0
                    for (k, wt) in weights.enumerated() { s += wt * Float(pixels[(y * width + first + k) * c + ch]) }
                    rows[(y * w + x) * c + ch] = Self.clip(s)
                }
            }
        }
        // Along the columns: height → h.
        let down = Self.coefficients(from: height, to: h)
        var out = [UInt8](repeating: 0, count: w * h * c)
        for y in 0..<h {
            let (first, weights) = down[y]
            for x in 0..<w {
                for ch in 0..<c {
                    var s: Float = 0
                    for (k, wt) in weights.enumerated() { s += wt * Float(rows[((first + k) * w + x) * c + ch]) }
                    out[(y * w + x) * c + ch] = Self.clip(s)
                }
            }
        }
        return Picture(width: w, height: h, channels: c, pixels: out)
    }

    @inline(__always) private static func clip(_ v: Float) -> UInt8 { UInt8(min(255, max(0, v.rounded()))) }

    /// PIL's precompute_coeffs for the triangle filter (support 1): for each output index, the
    /// first source index and the normalised weights of the sources it reads.
    static func coefficients(from size: Int, to out: Int) -> [(Int, [Float])] {
        let scale = Double(size) / Double(out)
        let filterScale = max(scale, 1), support = filterScale
        return (0..<out).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(0, Int((center - support + 0.5).rounded(.down)))
            let hi = min(size, Int((center + support + 0.5).rounded(.down)))
            var weights: [Double] = []
            for x in lo..<max(lo, hi) {
                let t = abs((Double(x) - center + 0.5) / filterScale)
                weights.append(max(0, 1 - t))
            }
            let total = weights.reduce(0, +)
            return (lo, weights.map { Float(total > 0 ? $0 / total : 0) })
        }
    }

    /// The values as a sample [C, H, W]: each channel's plane after the other.
    public var planar: [UInt8] {
        if channels == 1 { return pixels }
        var out = [UInt8](repeating: 0, count: pixels.count)
        let plane = width * height
        for p in 0..<plane { for ch in 0..<channels { out[ch * plane + p] = pixels[p * channels + ch] } }
        return out
    }
}
