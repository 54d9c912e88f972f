import Foundation
import MLPEngine

/// predict and confusion: what the trained model says about one image, and about the test set.
func inspectionCommands() -> [Command] {
    [
        Command(name: "predict", group: "Results", usage: "predict FILE.png|FILE.jpg|FILE.pgm|test:INDEX [show=true]",
                summary: "the class the model predicts for one image, and every class's probability",
                details: """
                SOURCE is a PNG file (any depth or colour, read by libpng), a JPEG (libjpeg-turbo), a PGM
                (P2 or P5), or NAME:INDEX for sample INDEX of a loaded data set (test:0). An image file is
                prepared as MNIST's digits were: transparency composited on the ground, made grey, inverted
                when it is dark strokes on a light ground, cropped to the ink, scaled so its longer side is
                20 of 28 pixels, and centred by centre of mass. A blank image is an error; a top class below
                50% is noted. The model runs in evaluation mode. On a terminal the image is also drawn.
                """,
                options: [OptionSpec("show", "auto", "draw the image: true, false, or auto (on a terminal)")],
                arguments: [.path], example: "predict test:0", run: predict),
        Command(name: "confusion", group: "Results", usage: "confusion [data=test]",
                summary: "the confusion matrix on the test set, with each class's precision, recall and F1, and their macro averages",
                details: "Rows are the true classes and columns the predictions. The model runs in evaluation mode.",
                options: [OptionSpec("data", "test", "the data set to evaluate")],
                example: "confusion", run: { inv, o, s in
                    try expectArguments(inv, 0...0, usage: "confusion [data=test]")
                    let name = o.string("data")
                    let data = try s.requireDataset(name)
                    let model = try s.requireModel()
                    try model.checkFit(data, name: name)
                    let batch = max(1, min(data.count, (1 << 22) / max(1, model.maxWidth)))
                    try model.checkBatch(batch)
                    warnIfNotFinite(model, s)
                    let m = try model.confusion(data, batch: batch) { _ in !s.interruptRequested() }
                    s.console.write(confusionTable(m, names: data.classNames.map { printable($0) }, title: "\(name): \(printable(data.summary))"))
                }),
    ]
}

/// The image and the sample a `predict` source names: a data-set sample or an image file.
private func predictionInput(_ source: String, _ s: Session, shape: [Int]) throws -> (image: GreyImage?, sample: [Float], label: String?) {
    if let colon = source.lastIndex(of: ":"), let index = Int(source[source.index(after: colon)...]) {
        let name = String(source[..<colon])
        if s.datasets[name] != nil || ["test", "train"].contains(name) {
            let data = try s.requireDataset(name)
            guard (0..<data.count).contains(index) else {
                throw EngineError("\(source): index \(index) is outside \(name)'s 0..<\(data.count)")
            }
            var x = [Float](repeating: 0, count: data.features)
            var label: Int32 = 0
            [Int32(index)].withUnsafeBufferPointer { idx in
                x.withUnsafeMutableBufferPointer { data.fill(indices: idx, x: $0.baseAddress!, labels: &label) }
            }
            var image: GreyImage?
            if data.sampleShape.count == 3 && data.sampleShape[0] == 1 {
                image = GreyImage(width: data.sampleShape[2], height: data.sampleShape[1],
                                  pixels: x.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) })
            }
            let l = Int(label)
            return (image, x, data.classNames.indices.contains(l) ? printable(data.classNames[l]) : String(l))
        }
    }
    // A colour model [3, H, W]: the image as it is, resized as image folders are, scaled to [0, 1].
    if shape.count == 3 && shape[0] == 3 {
        let bytes = try readFileBytes(source, limit: ImageFolder.maximumFileBytes, inflate: false)
        let picture = try Picture.decode(bytes, name: source, channels: 3).resized(width: shape[2], height: shape[1])
        var sample = picture.planar.map { Float($0) / 255 }
        if let n = s.normalization {
            try n.check(shape)
            sample.withUnsafeMutableBufferPointer { n.apply($0.baseAddress!, rows: 1, shape: shape) }
        }
        return (nil, sample, nil)
    }
    // A grey image [1, H, W], or a flat input whose width is a square (784 = 28x28).
    let side = Int(Double(shape.reduce(1, *)).squareRoot().rounded())
    let (height, width): (Int, Int)
    if shape.count == 3 && shape[0] == 1 {
        (height, width) = (shape[1], shape[2])
    } else if shape.count == 1 && side * side == shape[0] {
        (height, width) = (side, side)
    } else {
        throw EngineError("the model's input is \(shape.map(String.init).joined(separator: "x")), not a grey image: predict needs NAME:INDEX")
    }
    let image = try GreyImage.readDrawing(path: source).preparedAsMNIST(width: width, height: height, name: source)
    var sample = image.floats
    // Normalised as the training data was.
    if let n = s.normalization {
        try n.check(shape)
        sample.withUnsafeMutableBufferPointer { n.apply($0.baseAddress!, rows: 1, shape: shape) }
    }
    return (image, sample, nil)
}

/// How many of the model's parameters are NaN or infinite.
func nonFiniteWeights(_ model: Sequential) -> Int {
    model.parameterStorage.buffer.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
}

/// A warning, before results computed with weights that are NaN or infinite mean nothing.
func warnIfNotFinite(_ model: Sequential, _ s: Session) {
    let bad = nonFiniteWeights(model)
    guard bad > 0 else { return }
    s.console.writeError("warning: \(grouped(bad)) of the model's \(grouped(model.parameterCount)) weights are NaN or infinite: its results below mean nothing\n")
}

private func predict(_ inv: Invocation, _ o: Options, _ s: Session) throws {
    try expectArguments(inv, 1...1, usage: "predict FILE.png|FILE.jpg|FILE.pgm|test:INDEX")
    let model = try s.requireModel()
    let show = o.string("show")
    guard ["auto", "true", "false"].contains(show) else { throw EngineError("show=\(show) is not true, false or auto") }
    let source = inv.positional[0]
    try model.checkBatch(1)
    let input = try predictionInput(source, s, shape: model.inputShape)
    guard input.sample.count == model.inputWidth else {
        throw EngineError("\(source) gives \(input.sample.count) values but the model takes \(model.inputWidth)")
    }
    let p = model.probabilities(input.sample)
    guard p.allSatisfy(\.isFinite) else {
        let bad = nonFiniteWeights(model)
        throw EngineError("the model's output is not a number" + (bad > 0 ? ": \(grouped(bad)) of its \(grouped(model.parameterCount)) weights are NaN or infinite (a broken file, or training that diverged)" : " for this input"))
    }
    let names = classNames(s, count: p.count)
    if let image = input.image, let display = s.console.display, show != "false" {
        // A notebook: the digit itself, as PNG, with its shading as text.
        display(["image/png": Data(try image.pngData()).base64EncodedString(), "text/plain": ImageShading.render(image)])
    } else if let image = input.image, show == "true" || (show == "auto" && s.console.isTerminal) {
        s.console.write(ImageShading.render(image))
    }
    let best = p.withUnsafeBufferPointer { argmax($0.baseAddress!, $0.count) }
    var head = "predicted: \(names[best])" + String(format: " (%.1f%%)", Double(p[best]) * 100)
    if let label = input.label { head += ", label: \(label)" }
    s.console.print(head)
    if p[best] < 0.5 {
        s.console.print(String(format: "note: a low confidence (%.0f%%): the image may not look like what the model was trained on", Double(p[best]) * 100))
    }
    let width = names.map(\.count).max() ?? 1
    for (c, name) in names.enumerated() {
        let bar = String(repeating: "█", count: Int((Double(p[c]) * 40).rounded()))
        s.console.print("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %.4f  ", p[c]) + bar)
    }
}

/// The class names of the session's data (test, then train), or the output indices.
private func classNames(_ s: Session, count: Int) -> [String] {
    let names = (s.datasets["test"] ?? s.datasets["train"])?.classNames ?? []
    return (0..<count).map { $0 < names.count ? printable(names[$0]) : String($0) }
}

/// The matrix with true classes as rows, then each class's precision, recall and F1, and
/// their macro averages.
func confusionTable(_ m: ConfusionMatrix, names: [String], title: String) -> String {
    let label = { (c: Int) in c < names.count ? names[c] : String(c) }
    let cell = max(5, String(m.counts.max() ?? 0).count + 1)
    let rowName = { (c: Int) in c < names.count && names[c] != String(c) ? "\(c) \(names[c])" : String(c) }
    let rowTitle = max(9, (0..<m.classes).map { rowName($0).count }.max() ?? 0) + 1
    func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    func left(_ s: String, _ w: Int) -> String { s.padding(toLength: max(w, s.count), withPad: " ", startingAt: 0) }
    var out = "\(title)\nrows: true class, columns: predicted class\n"
    out += left("", rowTitle) + (0..<m.classes).map { pad(String($0), cell) }.joined() + "\n"
    for t in 0..<m.classes {
        out += left(rowName(t), rowTitle) + (0..<m.classes).map { pad(String(m[t, $0]), cell) }.joined() + "\n"
    }
    let pct = { (v: Double?) in v.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
    out += "\n" + left("class", rowTitle) + pad("precision", 10) + pad("recall", 9) + pad("f1", 8) + pad("count", 8) + "\n"
    for c in 0..<m.classes {
        let count = (0..<m.classes).reduce(0) { $0 + m[c, $1] }
        out += left(label(c), rowTitle) + pad(pct(m.precision(c)), 10) + pad(pct(m.recall(c)), 9) + pad(pct(m.f1(c)), 8)
            + pad(String(count), 8) + "\n"
    }
    if let macro = m.macroAverage {
        out += left("macro avg", rowTitle) + pad(pct(macro.precision), 10) + pad(pct(macro.recall), 9) + pad(pct(macro.f1), 8)
            + pad(String(m.total), 8) + "\n"
    }
    out += String(format: "accuracy: %.2f%% (%d of %d)\n", m.accuracy * 100, m.correct, m.total)
    return out
}
