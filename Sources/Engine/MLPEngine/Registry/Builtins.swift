/// The built-in layers, losses, optimizers, datasets, schedules and inits: the one list that
/// names them. Each thing's own file holds its `make`; this file only registers.
extension Registries {
    func registerBuiltins() throws {
        try registerBuiltinLayers()
        try registerBuiltinLosses()
        try registerBuiltinOptimizers()
        try registerBuiltinDatasets()
        try registerBuiltinSchedules()
        try registerBuiltinInits()
    }

    private func registerBuiltinLayers() throws {
        try layers.register(.init(name: "linear", summary: "fully connected: y = x·Wᵀ + b (nn.Linear)",
            usage: "[IN] OUT",
            details: "W is [OUT, IN] and b is [OUT], both uniform in ±1/sqrt(IN) (PyTorch's default).\nWith one number, IN is the width of the layer before (or of the data); an image is flattened.",
            example: "linear 784 120", make: Linear.make))
        try layers.register(.init(name: "relu", summary: "max(0, x)", example: "relu", make: ReLU.make))
        try layers.register(.init(name: "sigmoid", summary: "1 / (1 + exp(-x))", example: "sigmoid", make: Sigmoid.make))
        try layers.register(.init(name: "tanh", summary: "tanh(x)", example: "tanh", make: Tanh.make))
        try layers.register(.init(name: "leaky_relu", summary: "x if x > 0, else slope·x",
            options: [OptionSpec("slope", "0.01", "the slope for negative inputs")],
            example: "leaky_relu slope=0.1", make: LeakyReLU.make))
        try layers.register(.init(name: "flatten", summary: "each sample to one row (x.view(B, -1))",
            example: "flatten", make: Flatten.make))
        try layers.register(.init(name: "conv2d", summary: "2-D convolution over images [C, H, W] (nn.Conv2d)",
            usage: "IN OUT K", options: [OptionSpec("stride", "1", "step between windows: N, or H,W"),
                                          OptionSpec("padding", "0", "zeros added on each side: N, H,W, or same (stride 1)"),
                                          OptionSpec("dilation", "1", "spacing between kernel taps: N, or H,W"),
                                          OptionSpec("groups", "1", "channel groups: IN and OUT split in G (G = IN = OUT: depthwise)"),
                                          OptionSpec("bias", "true", "add a bias per output channel")],
            details: "K is N or H,W. W is [OUT, IN/G, KH, KW] and b is [OUT], initialised as PyTorch's (uniform, fan_in = IN/G·KH·KW).\nThe output is [OUT, (H + 2·PH − DH·(KH−1) − 1)/SH + 1, (W + 2·PW − DW·(KW−1) − 1)/SW + 1]; padding=same keeps\nH and W (the odd zero after, as PyTorch). Square, undilated, ungrouped layers run on direct SIMD kernels;\nthe others are lowered to matrix products (im2col).",
            example: "conv2d 1 6 5 padding=2", make: Conv2d.make))
        try layers.register(.init(name: "maxpool2d", summary: "the largest value of each K×K window (nn.MaxPool2d)",
            usage: "K", options: [OptionSpec("stride", "K", "step between windows (the window size by default): N, or H,W"),
                                  OptionSpec("padding", "0", "implicit -inf on each side, at most K/2: N, or H,W"),
                                  OptionSpec("dilation", "1", "spacing between the window's taps: N, or H,W"),
                                  OptionSpec("ceil_mode", "false", "round the output size up (a last, partial window)")],
            details: "K is N or H,W. The output is (H + 2·P − D·(K−1) − 1)/S + 1 a side, rounded down (up with ceil_mode, as PyTorch).",
            example: "maxpool2d 2", make: MaxPool2d.make))
        try layers.register(.init(name: "avgpool2d", summary: "the mean of each K×K window (nn.AvgPool2d)",
            usage: "K", options: [OptionSpec("stride", "K", "step between windows (the window size by default): N, or H,W"),
                                  OptionSpec("padding", "0", "zeros on each side, at most K/2: N, or H,W"),
                                  OptionSpec("ceil_mode", "false", "round the output size up (a last, partial window)"),
                                  OptionSpec("count_include_pad", "true", "whether the padding's zeros count in the mean")],
            details: "K is N or H,W. The output is (H + 2·P − K)/S + 1 a side, rounded down (up with ceil_mode, as PyTorch).",
            example: "avgpool2d 2", make: AvgPool2d.make))
        try layers.register(AdaptiveAvgPool2d.entry)
        let bnOptions = [OptionSpec("eps", "1e-05", "added to the variance"),
                         OptionSpec("momentum", "0.1", "how far the running statistics move toward each batch's"),
                         OptionSpec("affine", "true", "a learnt scale and shift (weight, bias) for each channel")]
        let bnDetails = "Batch statistics in training; running statistics in test, predict and confusion (eval mode).\nSaved as PyTorch: weight, bias, running_mean, running_var, num_batches_tracked. Under mpirun each\nrank normalises with its own share of the batch, as PyTorch's DDP does without SyncBatchNorm;\nafter each epoch every rank takes rank 0's running statistics."
        try layers.register(.init(name: "batchnorm2d", summary: "normalises each channel of images over the batch (nn.BatchNorm2d)",
            usage: "C", options: bnOptions, details: bnDetails, example: "batchnorm2d 6", make: { try BatchNorm.make($0, twoD: true) }))
        try layers.register(.init(name: "batchnorm1d", summary: "normalises each feature over the batch (nn.BatchNorm1d)",
            usage: "F", options: bnOptions, details: bnDetails, example: "batchnorm1d 120", make: { try BatchNorm.make($0, twoD: false) }))
        try layers.register(.init(name: "dropout", summary: "zeroes values with probability p in training, scales the rest by 1/(1-p)",
            usage: "[P]", options: [OptionSpec("p", "0.5", "the probability of zeroing, in [0, 1)")],
            example: "dropout p=0.2", make: Dropout.make))
        try layers.register(.init(name: "softmax", summary: "exp(x) / Σ exp(x) over each row",
            example: "softmax", make: { try Softmax.make($0, log: false) }))
        try layers.register(.init(name: "log_softmax", summary: "log of softmax over each row (use with the nll loss)",
            example: "log_softmax", make: { try Softmax.make($0, log: true) }))
        for entry in [Residual.entry, Concat.entry] { try layers.register(entry) }
    }

    private func registerBuiltinLosses() throws {
        let weight = OptionSpec("weight", "", "class weights w0,w1,... (one per output)")
        let ignore = OptionSpec("ignore_index", "-100", "a target that counts for nothing")
        try losses.register(.init(name: "cross_entropy", summary: "-log softmax of the target class (nn.CrossEntropyLoss)",
            options: [weight, ignore, OptionSpec("label_smoothing", "0", "ε in [0, 1]: mixes the target with the uniform distribution"), reductionSpec],
            details: "The model's output is raw scores (logits). With reduction=mean the weighted sum is divided by the\nsum of the weights of the targets counted. A batch whose targets all equal ignore_index has loss 0.",
            example: "loss cross_entropy label_smoothing=0.1", make: CrossEntropy.make))
        try losses.register(.init(name: "nll", summary: "-output[target], for log-probabilities (nn.NLLLoss)",
            options: [weight, ignore, reductionSpec],
            details: "End the model with log_softmax. A batch whose targets all equal ignore_index has loss 0.",
            example: "loss nll", make: NLL.make))
        try losses.register(.init(name: "mse", summary: "mean squared error against the one-hot target (nn.MSELoss)",
            options: [reductionSpec], details: "The mean is over every element: batch × outputs.",
            example: "loss mse", make: MSE.make))
    }

    private func registerBuiltinOptimizers() throws {
        let wd = OptionSpec("weight_decay", "0", "L2 penalty added to the gradient")
        try optimizers.register(.init(name: "sgd", summary: "stochastic gradient descent (torch.optim.SGD)",
            options: [OptionSpec("lr", "0.001", "learning rate"), OptionSpec("momentum", "0", "momentum factor μ"),
                      OptionSpec("dampening", "0", "dampening for momentum"), wd,
                      OptionSpec("nesterov", "false", "Nesterov momentum")],
            details: "g = grad + weight_decay·w; with momentum b = μ·b + (1-dampening)·g (b = g at the first step),\ng = nesterov ? g + μ·b : b; w -= lr·g.",
            example: "optim sgd lr=0.005 momentum=0.9", make: SGD.make))
        let adamOptions = [OptionSpec("lr", "0.001", "learning rate"), OptionSpec("beta1", "0.9", "decay of the first moment"),
                           OptionSpec("beta2", "0.999", "decay of the second moment"), OptionSpec("eps", "1e-08", "added to the denominator")]
        try optimizers.register(.init(name: "adam", summary: "Adam (torch.optim.Adam)", options: adamOptions + [wd],
            details: "m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; w -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps).",
            example: "optim adam lr=0.001", make: { try Adam.make($0, decoupled: false) }))
        try optimizers.register(.init(name: "adamw", summary: "Adam with decoupled weight decay (torch.optim.AdamW)",
            options: adamOptions + [OptionSpec("weight_decay", "0.01", "w *= 1 - lr·weight_decay before each step")],
            example: "optim adamw lr=0.001 weight_decay=0.01", make: { try Adam.make($0, decoupled: true) }))
        try optimizers.register(.init(name: "rmsprop", summary: "RMSprop (torch.optim.RMSprop)",
            options: [OptionSpec("lr", "0.01", "learning rate"), OptionSpec("alpha", "0.99", "smoothing constant"),
                      OptionSpec("eps", "1e-08", "added to the denominator"), wd,
                      OptionSpec("momentum", "0", "momentum factor"), OptionSpec("centered", "false", "normalise by the centred variance")],
            example: "optim rmsprop lr=0.001", make: RMSprop.make))
    }

    private func registerBuiltinDatasets() throws {
        let common = [OptionSpec("split", "train", "train or test"), OptionSpec("path", "", "the folder holding the IDX files"),
                      OptionSpec("limit", "", "keep only the first N samples")]
        try datasets.register(.init(name: "mnist", summary: "handwritten digits, 28x28 grey (60,000 train, 10,000 test)",
            options: common,
            details: "Searched in path=, then $MLPSH_DATA/mnist, then ./data/mnist; scripts/fetch-mnist gets the files.",
            example: "data train mnist split=train", make: { try MNISTLoader.load(name: "mnist", options: $0.options) }))
        try datasets.register(.init(name: "fashion_mnist", summary: "Zalando's clothing images, 28x28 grey, 10 classes",
            options: common,
            details: "Searched in path=, then $MLPSH_DATA/fashion_mnist, ./data/fashion_mnist and /usr/share/datasets/fashion-mnist\n(Debian's dataset-fashion-mnist).",
            example: "data train fashion_mnist split=train", make: { try MNISTLoader.load(name: "fashion_mnist", options: $0.options) }))
        try datasets.register(.init(name: "synthetic", summary: "Gaussian blobs, generated from the seed",
            options: [OptionSpec("classes", "3", "number of classes"), OptionSpec("features", "4", "features per sample"),
                      OptionSpec("n", "600", "number of samples"), OptionSpec("noise", "0.3", "standard deviation around each class centre"),
                      OptionSpec("centres", "0", "the seed of the class centres: train and test sets with the same value share classes")],
            example: "data train synthetic classes=3 features=4 n=600", make: SyntheticData.make))
    }

    private func registerBuiltinSchedules() throws {
        try schedules.register(.init(name: "none", summary: "a constant learning rate", example: "schedule none",
            make: { _ in .none }))
        try schedules.register(.init(name: "step", summary: "lr · gamma^(epoch div step_size) (StepLR)",
            options: [OptionSpec("step_size", "10", "epochs between decays"), OptionSpec("gamma", "0.1", "decay factor")],
            example: "schedule step step_size=10 gamma=0.5",
            make: { .step(size: try $0.int("step_size", min: 1), gamma: try $0.float("gamma", min: 0)) }))
        try schedules.register(.init(name: "cosine", summary: "cosine annealing from lr to eta_min over t_max epochs (CosineAnnealingLR)",
            options: [OptionSpec("t_max", "50", "epochs of one half-period"), OptionSpec("eta_min", "0", "the lowest rate")],
            example: "schedule cosine t_max=50",
            make: { .cosine(tMax: try $0.int("t_max", min: 1), etaMin: try $0.float("eta_min", min: 0)) }))
    }

    private func registerBuiltinInits() throws {
        let bias = OptionSpec("bias", "zero", "what the biases become: zero, or keep")
        func biasRule(_ o: Options) throws -> (Parameter?) -> Void {
            switch o.string("bias") {
            case "zero": return { $0?.value.fill(0) }
            case "keep": return { _ in }
            case let other: throw EngineError("bias=\(other) for 'init' is not zero or keep")
            }
        }
        try initializers.register(.init(name: "default", summary: "PyTorch's nn.Linear rule: weight and bias uniform in ±1/sqrt(fan_in)",
            example: "init default", make: { _ in
                InitScheme { w, b, r in Initializer.pytorchDefault(weight: w, bias: b, random: r) } }))
        try initializers.register(.init(name: "xavier_uniform", summary: "uniform in ±gain·sqrt(6/(fan_in+fan_out))",
            options: [OptionSpec("gain", "1", "scale"), bias], example: "init xavier_uniform", make: { o in
                let gain = try o.double("gain", min: 0), rule = try biasRule(o)
                return InitScheme { w, b, r in Initializer.xavierUniform(weight: w, gain: gain, random: r); rule(b) } }))
        try initializers.register(.init(name: "kaiming_normal", summary: "normal with std sqrt(2/fan_in) (He, for ReLU)",
            options: [bias], example: "init kaiming_normal", make: { o in
                let rule = try biasRule(o)
                return InitScheme { w, b, r in Initializer.kaimingNormal(weight: w, random: r); rule(b) } }))
        try initializers.register(.init(name: "orthogonal", summary: "an orthogonal matrix from the QR of a normal one (LAPACK)",
            options: [OptionSpec("gain", "1", "scale"), bias], example: "init orthogonal", make: { o in
                let gain = try o.float("gain", min: 0), rule = try biasRule(o)
                return InitScheme { w, b, r in try Initializer.orthogonal(weight: w, gain: gain, random: r); rule(b) } }))
    }
}
