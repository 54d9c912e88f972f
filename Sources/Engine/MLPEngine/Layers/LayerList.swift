/// Layers run in order inside a block (a residual's body, a concat's branch), as
/// nn.Sequential runs them; an empty list is the identity, as an empty nn.Sequential is.
struct LayerList {
    let layers: [Layer]
    /// The shape of one sample of the list's output (its input's when it is empty).
    let outputShape: [Int]

    init(_ layers: [Layer], inputShape: [Int]) {
        self.layers = layers
        outputShape = layers.last?.outputShape ?? inputShape
    }

    func forward(_ x: Tensor) -> Tensor { LayerList.forward(layers, x) }

    func backward(_ g: Tensor) -> Tensor { LayerList.backward(layers, g) }

    /// Runs layers in order, as their forward passes one after another would, except that a
    /// batch norm followed by a ReLU computes the ReLU itself (BatchNorm.forward(_:rectifying:)):
    /// one pass over the activations fewer each way. (Sequential runs its layers so too.)
    static func forward(_ layers: [Layer], _ x: Tensor) -> Tensor {
        var h = x, i = 0
        while i < layers.count {
            if let norm = layers[i] as? BatchNorm, i + 1 < layers.count, layers[i + 1] is ReLU {
                h = norm.forward(h, rectifying: true)
                i += 2
            } else {
                h = layers[i].forward(h)
                i += 1
            }
        }
        return h
    }

    /// Backward through `layers` after `forward`: a ReLU whose batch norm computed it is skipped.
    static func backward(_ layers: [Layer], _ gradient: Tensor) -> Tensor {
        var g = gradient, i = layers.count - 1
        while i >= 0 {
            if layers[i] is ReLU, i > 0, let norm = layers[i - 1] as? BatchNorm, norm.rectified {
                g = norm.backward(g)
                i -= 2
            } else {
                g = layers[i].backward(g)
                i -= 1
            }
        }
        return g
    }

    var specs: [Spec] { layers.map(\.spec) }

    /// The first layer's input is the block's: it needs a gradient when the block's does.
    func setNeedsInputGradient(_ needed: Bool) {
        for (i, layer) in layers.enumerated() { layer.needsInputGradient = i > 0 || needed }
    }

    func setTraining(_ training: Bool) { for layer in layers { layer.isTraining = training } }

    /// Each layer with its state_dict name under `prefix` ("body" → "body.0").
    func named(_ prefix: String) -> [(name: String, layer: Layer)] {
        layers.enumerated().map { ("\(prefix).\($0.offset)", $0.element) }
    }

    /// The layers' lines for a block's definition, indented under it.
    var indentedDefinition: [String] {
        layers.flatMap { $0.definition.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 } }
    }
}

extension Layer {
    /// A block's parameters and buffers, named after its sublayers ("body.0.weight").
    func namedParametersOfSublayers() -> [(String, Parameter)] {
        sublayers.flatMap { name, layer in layer.namedParameters.map { ("\(name).\($0.0)", $0.1) } }
    }

    func namedBuffersOfSublayers() -> [(String, Buffer)] {
        sublayers.flatMap { name, layer in layer.namedBuffers.map { ("\(name).\($0.0)", $0.1) } }
    }
}

/// out[i] = a[i] + b[i], 8 at a time, split across cores when large (a residual block's sum).
func addElementwise(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    func add(_ start: Int, _ n: Int) {
        let a = a + start, b = b + start, out = out + start
        var i = 0
        while i + 8 <= n {
            let sum = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: sum, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { out[i] = a[i] + b[i]; i += 1 }
    }
    if count < ElementwiseLayer.parallelCount { add(0, count); return }
    Parallel.shared.forEachSlice(of: count, minimum: ElementwiseLayer.parallelCount / 2) { start, n in add(start, n) }
}
