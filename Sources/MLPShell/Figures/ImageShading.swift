import MLPEngine

/// A grey image drawn with Unicode shade characters: one character per pixel column, twice
/// over so the image keeps its shape, and one line per two pixel rows.
enum ImageShading {
    static let shades: [Character] = [" ", "░", "▒", "▓", "█"]

    static func render(_ image: GreyImage) -> String {
        var out = ""
        var y = 0
        while y < image.height {
            var line = ""
            for x in 0..<image.width {
                var v = Int(image.pixels[y * image.width + x])
                if y + 1 < image.height { v = (v + Int(image.pixels[(y + 1) * image.width + x])) / 2 }
                let c = shades[min(shades.count - 1, (v * shades.count) / 256)]
                line.append(c)
                line.append(c)
            }
            out += "│" + line + "│\n"
            y += 2
        }
        let rule = String(repeating: "─", count: image.width * 2)
        return "┌" + rule + "┐\n" + out + "└" + rule + "┘\n"
    }
}
