import Foundation
import MLPEngine

/// A hostile ONNX file read by `load FILE.onnx`: it is refused with an error or becomes a
/// model; a model must run a batch forward, export, and read back from its export to the same
/// layers (what loads must save and load again).
func fuzzONNX(_ bytes: [UInt8]) {
    // Large layers are allowed but slow: their limits have unit tests.
    guard bytes.count < 1 << 16, let model = try? ONNXImport.model(Data(bytes), name: "fuzz"),
          model.parameterCount < 1 << 20, model.inputWidth < 1 << 16 else { return }
    model.isTraining = false
    let x = Tensor(shape: [2] + model.inputShape)
    x.fill(0.5)
    _ = model.forward(x)
    let exported = try! ONNXExport.data(model)
    let again = try! ONNXImport.model(exported, name: "again")
    precondition(again.specs == model.specs, "export and import changed the layers")
}
