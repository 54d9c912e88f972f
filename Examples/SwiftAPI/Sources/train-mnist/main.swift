// Examples/mnist_mlp.mlp written against MLPEngine, without the shell: the same seed, data,
// model, loss, optimizer and loop, so it prints the same epoch lines as
// `mlpsh Examples/mnist_mlp.mlp`.
//
//     swift run -c release train-mnist [--epochs N] [--limit N] [--data DIR] [--save FILE] [--model mlp|residual]
//
// --model residual puts a residual block in the middle, made in Swift as the shell's
//     residual
//       linear 120 120
//       relu
//       linear 120 120
//     end
// makes it (Residual(body:shortcut:inputShape:); Concat(branches:inputShape:) joins branches).
//
// MNIST is found as mlpsh finds it: --data DIR, else $MLPSH_DATA/mnist, else ./data/mnist.
import Foundation
import MLPEngine

var epochs = 50, limit: Int?, data: String?, save: String?, residual = false
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fatalError("\(flag) needs a value") }
    switch flag {
    case "--epochs": epochs = Int(value) ?? epochs
    case "--limit": limit = Int(value)
    case "--data": data = value
    case "--save": save = value
    case "--model": residual = value == "residual"
    default: fatalError("unknown option \(flag): expected --epochs, --limit, --data, --save or --model")
    }
}

do {
    // seed 0; data train mnist split=train; data test mnist split=test
    let random = RandomGenerator(seed: 0)
    let train = try MNISTLoader.load(split: "train", path: data, limit: limit)
    let test = try MNISTLoader.load(split: "test", path: data, limit: limit)

    // model: linear 784 120, relu, linear 120 84, relu, linear 84 10
    let model: Sequential
    if residual {
        // linear 784 120, relu, residual (linear 120 120, relu, linear 120 120) end, relu, linear 120 10
        let first = Linear(inputWidth: 784, outputWidth: 120, random: random)
        let block = try Residual(body: [Linear(inputWidth: 120, outputWidth: 120, random: random), ReLU(shape: [120]),
                                        Linear(inputWidth: 120, outputWidth: 120, random: random)], inputShape: [120])
        model = Sequential(layers: [first, ReLU(shape: [120]), block, ReLU(shape: [120]),
                                    Linear(inputWidth: 120, outputWidth: 10, random: random)], inputShape: train.sampleShape)
    } else {
        model = Sequential(layers: [
            Linear(inputWidth: 784, outputWidth: 120, random: random), ReLU(shape: [120]),
            Linear(inputWidth: 120, outputWidth: 84, random: random), ReLU(shape: [84]),
            Linear(inputWidth: 84, outputWidth: 10, random: random),
        ], inputShape: train.sampleShape)
    }

    // loss cross_entropy; optim sgd lr=0.005; train epochs=50 batch=64 shuffle=true
    let trainer = Trainer(model: model, loss: CrossEntropy(), optimizer: SGD(lr: 0.005), random: random)
    trainer.hooks.epochEnded = { print($0.line) }
    try trainer.fit(train, test: test, epochs: epochs, batch: 64, shuffle: true)
    print("Done")

    // save mnist_mlp.safetensors: weights PyTorch reads, the model as data, the history.
    if let save {
        try Checkpoint.file(model: model, history: trainer.history, loss: trainer.loss, optimizer: trainer.optimizer,
                            schedule: trainer.schedule, random: random, training: false, version: "SwiftAPI").write(to: save)
    }
} catch {
    FileHandle.standardError.write("train-mnist: \(error)\n".data(using: .utf8)!)
    exit(1)
}
