extension GreyImage {
    /// Light strokes on a ground that is not even (a photo of paper under a lamp) made light
    /// strokes on black: the ground is estimated and taken off, then what is darker than half of
    /// Otsu's threshold goes to black, as a scanner's background removal does. An image whose
    /// ground varies by `unevenGround` levels or less comes back unchanged.
    ///
    /// The ground is the darkest pixel of each cell of a grid (cells an eighth of the shorter
    /// side), the darkest of each cell's 3x3 neighbours (so a cell covered by a thick stroke
    /// takes its neighbours' ground), bilinearly interpolated between the cells' centres.
    /// Strokes are narrower than a cell, so they are never mistaken for ground.
    public var groundFlattened: GreyImage {
        guard width >= 16, height >= 16 else { return self }
        let cell = max(2, min(width, height) / 8)
        let gw = (width + cell - 1) / cell, gh = (height + cell - 1) / cell
        var lowest = [Int](repeating: 255, count: gw * gh)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y / cell) * gw + x / cell
                lowest[i] = min(lowest[i], Int(pixels[y * width + x]))
            }
        }
        var ground = lowest
        for cy in 0..<gh {
            for cx in 0..<gw {
                var m = 255
                for dy in -1...1 {
                    for dx in -1...1 {
                        let y = cy + dy, x = cx + dx
                        if y >= 0 && y < gh && x >= 0 && x < gw { m = min(m, lowest[y * gw + x]) }
                    }
                }
                ground[cy * gw + cx] = m
            }
        }
        // An even ground (a scan, a clean drawing, MNIST itself) is left exactly as it is.
        guard (ground.max() ?? 0) - (ground.min() ?? 0) > Self.unevenGround else { return self }
        // Bilinear between the cells' centres; the border cells hold out to the edges.
        func at(_ cx: Int, _ cy: Int) -> Double { Double(ground[min(gh - 1, max(0, cy)) * gw + min(gw - 1, max(0, cx))]) }
        var flat = [Int](repeating: 0, count: width * height)
        for y in 0..<height {
            let fy = (Double(y) + 0.5) / Double(cell) - 0.5
            let y0 = Int(fy.rounded(.down)), ty = fy - Double(y0)
            for x in 0..<width {
                let fx = (Double(x) + 0.5) / Double(cell) - 0.5
                let x0 = Int(fx.rounded(.down)), tx = fx - Double(x0)
                let g = (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty
                flat[y * width + x] = max(0, Int(pixels[y * width + x]) - Int(g.rounded()))
            }
        }
        let cut = Self.otsuThreshold(flat) / 2
        return GreyImage(width: width, height: height, pixels: flat.map { UInt8($0 > cut ? $0 : 0) })
    }

    /// How far (in grey levels) the ground may vary and still count as even: JPEG noise and
    /// paper texture stay under it.
    static let unevenGround = 24

    /// Otsu's threshold of values 0...255: the level that best separates them into two classes
    /// (the largest between-class variance); where a gap between the classes makes a run of
    /// levels equally good, the middle of the run.
    static func otsuThreshold(_ values: [Int]) -> Int {
        var histogram = [Double](repeating: 0, count: 256)
        for v in values { histogram[min(255, max(0, v))] += 1 }
        let total = Double(values.count)
        let sum = (0..<256).reduce(0.0) { $0 + Double($1) * histogram[$1] }
        var below = 0.0, sumBelow = 0.0, best = 0.0, first = 0, last = 0
        for t in 0..<256 {
            below += histogram[t]
            sumBelow += Double(t) * histogram[t]
            let above = total - below
            guard below > 0, above > 0 else { continue }
            let mb = sumBelow / below, ma = (sum - sumBelow) / above
            let between = below * above * (mb - ma) * (mb - ma)
            if between > best * (1 + 1e-12) {
                best = between
                first = t
                last = t
            } else if between >= best * (1 - 1e-12) {
                last = t
            }
        }
        return (first + last) / 2
    }
}
