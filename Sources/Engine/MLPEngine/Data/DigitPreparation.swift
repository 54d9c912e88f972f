internal import CJPEG
import CPNG
import Foundation

/// A drawing made ready for a model trained on MNIST, as MNIST's digits were prepared: light
/// strokes on black, cropped to the ink, the longer side scaled to 20 of 28 pixels, and
/// centred by centre of mass in the 28x28 field.
extension GreyImage {
    /// Reads a PNG (transparency composited on the ground that contrasts with the strokes, so
    /// black ink on a transparent ground stays black ink), a JPEG (libjpeg-turbo) or a PGM.
    public static func readDrawing(path: String) throws -> GreyImage {
        let bytes = try readFileBytes(path, limit: 1 << 28, inflate: false)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNGCompositing(bytes, name: path) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try decodeJPEG(bytes, name: path) }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "2") || bytes[1] == UInt8(ascii: "5")) {
            return try decodePGM(bytes, name: path)
        }
        throw EngineError("\(path): not a PNG, JPEG or PGM image")
    }

    /// PNG as grey and alpha, composited: where the image is transparent, the ground is white
    /// when the opaque strokes are dark and black when they are light.
    public static func decodePNGCompositing(_ bytes: [UInt8], name: String = "PNG") throws -> GreyImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw EngineError("\(name): not a readable PNG") }
        let w = Int(image.width), h = Int(image.height)
        guard w > 0, h > 0, w <= maximumPixels, h <= maximumPixels, w * h <= maximumPixels else {
            throw EngineError("\(name): \(w)x\(h) pixels is more than the \(maximumPixels) accepted")
        }
        image.format = UInt32(PNG_FORMAT_GA)
        var ga = [UInt8](repeating: 0, count: w * h * 2)
        let finished = ga.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * 2), nil) }
        guard finished != 0 else { throw EngineError("\(name): corrupt PNG") }
        var inkSum = 0.0, alphaSum = 0.0
        for i in 0..<(w * h) {
            let a = Double(ga[2 * i + 1])
            inkSum += Double(ga[2 * i]) * a
            alphaSum += a
        }
        let opaqueMean = alphaSum > 0 ? inkSum / alphaSum : 0
        let ground: Double = opaqueMean < 128 ? 255 : 0
        var pixels = [UInt8](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let g = Double(ga[2 * i]), a = Double(ga[2 * i + 1]) / 255
            pixels[i] = UInt8(min(255, max(0, (g * a + ground * (1 - a)).rounded())))
        }
        return GreyImage(width: w, height: h, pixels: pixels)
    }

    /// JPEG to grey through libjpeg-turbo.
    public static func decodeJPEG(_ bytes: [UInt8], name: String = "JPEG") throws -> GreyImage {
        var out: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            mlpsh_jpeg_decode_grey(b.baseAddress, b.count, maximumPixels, &out, &w, &h, &message, message.count)
        }
        guard status == 0, let out else {
            throw EngineError("\(name): not a readable JPEG (\(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
        defer { mlpsh_jpeg_free(out) }
        return GreyImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: Int(w) * Int(h))))
    }

    /// MNIST's preparation, for a `width`x`height` model input: light strokes on black (the
    /// image inverted when it is dark on light), the ground flattened (`groundFlattened`), its
    /// remaining grey taken off and the contrast
    /// stretched, cropped to the ink, scaled so that its longer side is 20/28 of the field,
    /// and placed so that its centre of mass is the field's centre. A blank image is an error.
    public func preparedAsMNIST(width w: Int = 28, height h: Int = 28, name: String = "the image") throws -> GreyImage {
        // Light strokes on black, the ground's unevenness (a lamp's fall-off) taken off.
        var img = (isDarkOnLight ? inverted : self).groundFlattened
        // The ground: the median of the border; what is no lighter is ground.
        var border: [UInt8] = []
        for y in 0..<img.height {
            for x in 0..<img.width where y == 0 || x == 0 || y == img.height - 1 || x == img.width - 1 {
                border.append(img.pixels[y * img.width + x])
            }
        }
        border.sort()
        let ground = Int(border[border.count / 2])
        let top = Int(img.pixels.max() ?? 0)
        guard top - ground >= 32 else {
            throw EngineError("\(name) is blank: no strokes stand out from its background")
        }
        let span = Double(top - ground)
        img.pixels = img.pixels.map { UInt8(max(0, min(255, (Double(Int($0) - ground) / span * 255).rounded()))) }
        // The ink's bounding box: pixels at least a tenth as light as the lightest.
        var x0 = img.width, y0 = img.height, x1 = -1, y1 = -1
        for y in 0..<img.height {
            for x in 0..<img.width where img.pixels[y * img.width + x] >= 26 {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        guard x1 >= x0, y1 >= y0 else { throw EngineError("\(name) is blank: no strokes stand out from its background") }
        let cw = x1 - x0 + 1, ch = y1 - y0 + 1
        var crop = [UInt8](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw { crop[y * cw + x] = img.pixels[(y0 + y) * img.width + x0 + x] } }
        // The longer side to 20 of 28 (scaled for other fields), keeping the aspect.
        let box = max(1, Int((20.0 * Double(min(w, h)) / 28).rounded()))
        let longer = Double(max(cw, ch))
        let sw = max(1, Int((Double(cw) * Double(box) / longer).rounded())), sh = max(1, Int((Double(ch) * Double(box) / longer).rounded()))
        let scaled = GreyImage(width: cw, height: ch, pixels: crop).resized(width: sw, height: sh)
        // Centre of mass to the field's centre.
        var mass = 0.0, mx = 0.0, my = 0.0
        for y in 0..<sh {
            for x in 0..<sw {
                let v = Double(scaled.pixels[y * sw + x])
                mass += v; mx += v * (Double(x) + 0.5); my += v * (Double(y) + 0.5)
            }
        }
        // MNIST's centre is pixel 14 of 28 (its middle at 14.5): floor(size / 2) + 0.5.
        let ox = Int((Double(w / 2) + 0.5 - (mass > 0 ? mx / mass : Double(sw) / 2)).rounded())
        let oy = Int((Double(h / 2) + 0.5 - (mass > 0 ? my / mass : Double(sh) / 2)).rounded())
        var field = [UInt8](repeating: 0, count: w * h)
        for y in 0..<sh {
            for x in 0..<sw {
                let fx = x + ox, fy = y + oy
                if fx >= 0 && fx < w && fy >= 0 && fy < h { field[fy * w + fx] = scaled.pixels[y * sw + x] }
            }
        }
        return GreyImage(width: w, height: h, pixels: field)
    }
}
