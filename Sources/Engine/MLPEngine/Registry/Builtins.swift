/// The built-in layers, losses, optimizers, datasets, schedules and inits: the one list that
/// names them. Each type declares its registry entry (name, options, help, factory) in its own
/// file, as Caffe registers a layer beside its class; a new one is one file and one line here.
extension Registries {
    func registerBuiltins() throws {
        try layers.register([
            Linear.entry, ReLU.entry, Sigmoid.entry, Tanh.entry, LeakyReLU.entry, Flatten.entry,
            Conv2d.entry, MaxPool2d.entry, AvgPool2d.entry, AdaptiveAvgPool2d.entry,
            BatchNorm.entry2d, BatchNorm.entry1d, Dropout.entry, Softmax.entry, Softmax.logEntry,
            Residual.entry, Concat.entry,
        ])
        try losses.register([CrossEntropy.entry, NLL.entry, MSE.entry])
        try optimizers.register([SGD.entry, Adam.entry, Adam.decoupledEntry, RMSprop.entry])
        try datasets.register([MNISTLoader.entry, MNISTLoader.fashionEntry, SyntheticData.entry, ImageFolder.entry])
        try schedules.register([Schedule.noneEntry, Schedule.stepEntry, Schedule.cosineEntry])
        try initializers.register([InitScheme.defaultEntry, InitScheme.xavierUniformEntry, InitScheme.kaimingNormalEntry,
                                   InitScheme.orthogonalEntry])
    }
}
