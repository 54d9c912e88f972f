/// Rectangles of an image [H, W], each averaged into one output value with its own divisor:
/// what avgpool2d (fixed windows, PyTorch's divisor rules) and adaptive_avgpool2d (windows
/// sized to the output) share. Each plane of a batch (a sample's channel) is done alike.
struct AveragingWindows {
    typealias Window = (y0: Int, y1: Int, x0: Int, x1: Int, scale: Float)
    let windows: [Window]
    let height: Int, width: Int

    /// out[plane][i] = scale_i · Σ x[plane] over window i, the planes split across the cores.
    func forward(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, planes: Int) {
        let windows = windows, (h, w, cells) = (height, width, windows.count)
        Parallel.shared.forEachSlice(of: planes, minimum: 8) { start, count in
            for plane in start..<(start + count) {
                let p = x + plane * h * w, o = out + plane * cells
                for (i, win) in windows.enumerated() {
                    var s: Float = 0
                    for iy in win.y0..<max(win.y0, win.y1) {
                        let row = p + iy * w
                        for ix in win.x0..<max(win.x0, win.x1) { s += row[ix] }
                    }
                    o[i] = s * win.scale
                }
            }
        }
    }

    /// The adjoint: adds scale_i · dy[plane][i] to every input of window i (dx zeroed first).
    func backward(_ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, planes: Int) {
        let cells = windows.count
        for plane in 0..<planes {
            let p = dx + plane * height * width, d = dy + plane * cells
            for (i, win) in windows.enumerated() {
                let share = d[i] * win.scale
                for iy in win.y0..<max(win.y0, win.y1) {
                    let row = p + iy * width
                    for ix in win.x0..<max(win.x0, win.x1) { row[ix] += share }
                }
            }
        }
    }
}
