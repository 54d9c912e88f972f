import XCTest
@testable import MLPEngine

/// Each optimizer over three steps on a 2-element parameter w0 = [1, -2] with hand-set
/// gradients g1 = [0.5, -0.2], g2 = [-0.3, 0.4], g3 = [0.1, 0.1], against values worked out
/// from torch.optim's documented update rules (checked with a few lines of plain Python).
final class OptimizerTests: XCTestCase {
    private let gradients: [[Float]] = [[0.5, -0.2], [-0.3, 0.4], [0.1, 0.1]]

    /// Builds the optimizer from the registry, as `optim NAME KEY=VALUE ...` does.
    private func make(_ name: String, _ options: [String: String]) throws -> Optimizer {
        let entry = try Registries.shared.optimizers.lookup(name)
        return try entry.make(Arguments(options: try Options(options, specs: entry.options, owner: "optim \(name)")))
    }

    /// Runs the steps and returns w after each; also checks that step() is an update rule only:
    /// it leaves the gradient as it found it (zeroing is the trainer's).
    private func run(_ optimizer: Optimizer, file: StaticString = #filePath, line: UInt = #line) -> [[Float]] {
        let p = Parameter(name: "weight", rows: 1, cols: 2)
        p.value.data[0] = 1
        p.value.data[1] = -2
        optimizer.attach([p])
        var trace: [[Float]] = []
        for (t, g) in gradients.enumerated() {
            p.grad.data[0] = g[0]
            p.grad.data[1] = g[1]
            optimizer.step()
            XCTAssertEqual(p.grad.array, g, "step \(t + 1) must leave the gradient alone", file: file, line: line)
            XCTAssertEqual(optimizer.steps, t + 1, "steps counted", file: file, line: line)
            trace.append(p.value.array)
        }
        return trace
    }

    private func assertTrace(_ actual: [[Float]], _ expected: [[Double]], accuracy: Double = 2e-6,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (t, (a, e)) in zip(actual, expected).enumerated() {
            for i in 0..<2 {
                XCTAssertEqual(Double(a[i]), e[i], accuracy: accuracy * max(1, abs(e[i])),
                               "after step \(t + 1), w[\(i)]", file: file, line: line)
            }
        }
    }

    // MARK: - SGD

    func testPlainSGD() throws {
        // w -= lr·g, lr = 0.1:
        // step 1: [1 - 0.05, -2 + 0.02] = [0.95, -1.98]
        // step 2: [0.95 + 0.03, -1.98 - 0.04] = [0.98, -2.02]
        // step 3: [0.98 - 0.01, -2.02 - 0.01] = [0.97, -2.03]
        assertTrace(run(try make("sgd", ["lr": "0.1"])), [[0.95, -1.98], [0.98, -2.02], [0.97, -2.03]])
    }

    func testSGDWithWeightDecay() throws {
        // g = grad + 0.1·w; w -= 0.1·g
        // step 1: g = [0.5 + 0.1, -0.2 - 0.2] = [0.6, -0.4]        → w = [0.94, -1.96]
        // step 2: g = [-0.3 + 0.094, 0.4 - 0.196] = [-0.206, 0.204] → w = [0.9606, -1.9804]
        // step 3: g = [0.1 + 0.09606, 0.1 - 0.19804]                → w = [0.940994, -1.970596]
        assertTrace(run(try make("sgd", ["lr": "0.1", "weight_decay": "0.1"])),
                    [[0.94, -1.96], [0.9606, -1.9804], [0.940994, -1.970596]])
    }

    func testSGDNesterovMomentumWithWeightDecay() throws {
        // lr 0.1, μ 0.9, dampening 0, nesterov, weight_decay 0.1:
        // step 1: g = [0.6, -0.4]; b = g = [0.6, -0.4]; g' = g + 0.9·b = [1.14, -0.76]
        //         w = [1 - 0.114, -2 + 0.076] = [0.886, -1.924]
        // step 2: g = [-0.3 + 0.0886, 0.4 - 0.1924] = [-0.2114, 0.2076]
        //         b = 0.9·[0.6, -0.4] + g = [0.3286, -0.1524]
        //         g' = g + 0.9·b = [0.08434, 0.07044]; w = [0.877566, -1.931044]
        // step 3: g = [0.1 + 0.0877566, 0.1 - 0.1931044] = [0.1877566, -0.0931044]
        //         b = 0.9·[0.3286, -0.1524] + g = [0.4834966, -0.2302644]
        //         g' = g + 0.9·b = [0.62290354, -0.30034236]; w = [0.815275646, -1.901009764]
        assertTrace(run(try make("sgd", ["lr": "0.1", "momentum": "0.9", "dampening": "0",
                                         "nesterov": "true", "weight_decay": "0.1"])),
                    [[0.886, -1.924], [0.877566, -1.931044], [0.815275646, -1.901009764]])
    }

    func testSGDMomentumWithDampening() throws {
        // lr 0.1, μ 0.9, dampening 0.5: b = g at step 1 (no dampening), then b = 0.9·b + 0.5·g; w -= 0.1·b
        // step 1: b = [0.5, -0.2]                                   → w = [0.95, -1.98]
        // step 2: b = [0.45 - 0.15, -0.18 + 0.2] = [0.3, 0.02]      → w = [0.92, -1.982]
        // step 3: b = [0.27 + 0.05, 0.018 + 0.05] = [0.32, 0.068]   → w = [0.888, -1.9888]
        assertTrace(run(try make("sgd", ["lr": "0.1", "momentum": "0.9", "dampening": "0.5"])),
                    [[0.95, -1.98], [0.92, -1.982], [0.888, -1.9888]])
    }

    func testSGDNesterovNeedsMomentumAndNoDampening() {
        XCTAssertThrowsError(try make("sgd", ["lr": "0.1", "nesterov": "true"]))
        XCTAssertThrowsError(try make("sgd", ["lr": "0.1", "nesterov": "true", "momentum": "0.9", "dampening": "0.1"]))
    }

    // MARK: - Adam, AdamW

    func testAdam() throws {
        // lr 0.1, β = (0.9, 0.999), eps 1e-8. m = 0.9m + 0.1g; v = 0.999v + 0.001g²;
        // w -= 0.1/(1-0.9ᵗ) · m / (√v/√(1-0.999ᵗ) + 1e-8)
        // step 1: m = [0.05, -0.02], v = [2.5e-4, 4e-5]; m̂ = g, √v̂ = |g| → w = w - 0.1·sign(g)(1 - tiny)
        //         = [0.900000002, -1.900000005]
        // step 2: m = [0.045 - 0.03, -0.018 + 0.04] = [0.015, 0.022]
        //         v = [0.00024975 + 0.00009, 0.00003996 + 0.00016] = [3.3975e-4, 1.9996e-4]
        //         w0 = 0.9 - 0.1/0.19 · 0.015 / (√3.3975e-4/√0.001999) = 0.9 - 0.0078947·... = 0.88085020
        //         w1 = -1.9 - 0.1/0.19 · 0.022 / (√1.9996e-4/√0.001999) = -1.93661036
        // step 3: m = [0.0235, 0.0298], v = [3.4941025e-4, 2.0976004e-4] → w = [0.85545368, -1.97817547]
        assertTrace(run(try make("adam", ["lr": "0.1"])),
                    [[0.900000002, -1.900000005], [0.8808501989, -1.9366103565], [0.8554536806, -1.9781754750]],
                    accuracy: 5e-6)
    }

    func testAdamWithWeightDecayAddsItToTheGradient() throws {
        // Adam with weight_decay 0.1: g = grad + 0.1·w
        // step 1: g = [0.6, -0.4]; the first step is still ±lr: w = [0.9, -1.9]
        // step 2: g = [-0.3 + 0.09, 0.4 - 0.19] = [-0.21, 0.21]; m = [0.054 - 0.021, -0.036 + 0.021]
        //         = [0.033, -0.015]; v = [3.5964e-4 + 4.41e-5, 1.5984e-4 + 4.41e-5] → w = [0.86135300, -1.87528317]
        // step 3: → w = [0.81471773, -1.84436529]
        assertTrace(run(try make("adam", ["lr": "0.1", "weight_decay": "0.1"])),
                    [[0.9000000017, -1.9000000025], [0.8613529972, -1.8752831688], [0.8147177291, -1.8443652867]],
                    accuracy: 5e-6)
    }

    func testAdamWDecaysTheWeightBeforeTheStep() throws {
        // AdamW lr 0.1, weight_decay 0.1: w *= 1 - 0.01 first, then Adam on the raw gradient.
        // step 1: w = [0.99, -1.98] then -0.1·sign(g): [0.89, -1.88]
        // step 2: w = [0.8811, -1.8612], then the Adam step of testAdam's step 2 (-0.01914980, -0.03661036):
        //         [0.86195020, -1.89781036]
        // step 3: w = [0.85333070, -1.87883225] - [0.02601652, 0.04156512] = [0.82793418, -1.92039737]
        assertTrace(run(try make("adamw", ["lr": "0.1", "weight_decay": "0.1"])),
                    [[0.890000002, -1.880000005], [0.8619501989, -1.8978103565], [0.8279341786, -1.9203973713]],
                    accuracy: 5e-6)
    }

    func testAdamWDefaultWeightDecayIsPyTorchs() throws {
        let entry = try Registries.shared.optimizers.lookup("adamw")
        XCTAssertEqual(entry.options.first { $0.key == "weight_decay" }?.defaultValue, "0.01")
        let adam = try XCTUnwrap(try make("adamw", [:]) as? Adam)
        XCTAssertEqual(adam.weightDecay.exact, 0.01)
        XCTAssertEqual(adam.learningRate, 0.001)
        XCTAssertTrue(adam.decoupled)
    }

    // MARK: - RMSprop

    func testRMSprop() throws {
        // lr 0.01, α 0.99, eps 1e-8: s = 0.99s + 0.01g²; w -= 0.01·g/(√s + eps)
        // step 1: s = [0.0025, 0.0004]; √s = [0.05, 0.02]; w = [1 - 0.01·10, -2 - 0.01·(-10)] = [0.9, -1.9]
        // step 2: s = [0.002475 + 0.0009, 0.000396 + 0.0016] = [0.003375, 0.001996]
        //         w = [0.9 + 0.003/0.0580948, -1.9 - 0.004/0.0446766] = [0.95163979, -1.98953233]
        // step 3: s = [0.00344125, 0.00207604] → w = [0.93459303, -2.01147967]
        assertTrace(run(try make("rmsprop", ["lr": "0.01"])),
                    [[0.90000002, -1.90000005], [0.9516397891, -1.9895323262], [0.9345930304, -2.0114796740]],
                    accuracy: 5e-6)
    }

    func testRMSpropCenteredWithMomentumAndWeightDecay() throws {
        // lr 0.01, momentum 0.9, centered, weight_decay 0.1:
        // g = grad + 0.1w; s = 0.99s + 0.01g²; a = 0.99a + 0.01g; d = √(s - a²) + eps;
        // b = 0.9b + g/d; w -= 0.01·b
        // step 1: g = [0.6, -0.4]; s = [0.0036, 0.0016]; a = [0.006, -0.004];
        //         d = [√0.003564, √0.001584] = [0.0596992, 0.0397995]; b = [10.0504, -10.0504]
        //         w = [0.89949624, -1.89949624]
        assertTrace(run(try make("rmsprop", ["lr": "0.01", "momentum": "0.9", "centered": "true", "weight_decay": "0.1"])),
                    [[0.8994962353, -1.8994962437], [0.8422943575, -1.8557581718], [0.7626283890, -1.7975890808]],
                    accuracy: 1e-5)
    }

    // MARK: - State

    func testStateRestoreResumesExactly() throws {
        let a = try make("adam", ["lr": "0.1"])
        let trace = run(a)
        // A second optimizer restored from the first's state after step 2 takes the same step 3.
        let p = Parameter(name: "weight", rows: 1, cols: 2)
        let b = try make("adam", ["lr": "0.1"])
        let c = try make("adam", ["lr": "0.1"])
        let q = Parameter(name: "weight", rows: 1, cols: 2)
        p.value.data[0] = 1; p.value.data[1] = -2
        c.attach([q])
        b.attach([p])
        for g in gradients.prefix(2) { p.grad.data[0] = g[0]; p.grad.data[1] = g[1]; b.step() }
        q.value.copy(from: p.value)
        try c.restore(state: b.state, steps: b.steps)
        q.grad.data[0] = gradients[2][0]; q.grad.data[1] = gradients[2][1]
        c.step()
        XCTAssertEqual(q.value.array, trace[2])
    }

    // MARK: - Schedules

    private func schedule(_ name: String, _ options: [String: String]) throws -> Schedule {
        let entry = try Registries.shared.schedules.lookup(name)
        return try entry.make(Arguments(options: try Options(options, specs: entry.options, owner: "schedule \(name)")))
    }

    func testStepScheduleIsStepLR() throws {
        // StepLR(step_size 3, γ 0.5), base 0.1: 0.1 · 0.5^⌊epoch/3⌋
        let s = try schedule("step", ["step_size": "3", "gamma": "0.5"])
        let expected: [(Int, Float)] = [(0, 0.1), (2, 0.1), (3, 0.05), (5, 0.05), (6, 0.025), (9, 0.0125)]
        for (epoch, lr) in expected {
            XCTAssertEqual(s.rate(epoch, 0.1), lr, accuracy: 1e-8, "epoch \(epoch)")
        }
    }

    func testCosineScheduleIsCosineAnnealingClosedForm() throws {
        // η_min + (base - η_min)(1 + cos(π·epoch/T_max))/2, T_max 10, base 0.1
        let s = try schedule("cosine", ["t_max": "10"])
        XCTAssertEqual(s.rate(0, 0.1), 0.1, accuracy: 1e-8)
        XCTAssertEqual(s.rate(2, 0.1), 0.0904508497, accuracy: 1e-7)   // 0.05·(1 + cos 36°) = 0.05·1.809017
        XCTAssertEqual(s.rate(5, 0.1), 0.05, accuracy: 1e-8)
        XCTAssertEqual(s.rate(10, 0.1), 0, accuracy: 1e-8)
        let withFloor = try schedule("cosine", ["t_max": "10", "eta_min": "0.01"])
        XCTAssertEqual(withFloor.rate(5, 0.1), 0.055, accuracy: 1e-7)    // 0.01 + 0.09·0.5
        XCTAssertEqual(withFloor.rate(2, 0.1), 0.0914057647, accuracy: 1e-7)
        XCTAssertEqual(try schedule("none", [:]).rate(7, 0.1), 0.1)
    }
}

/// 1 − α, 1 − β and 1 − dampening are computed in Double from the values as given and rounded
/// once, as PyTorch computes them in Python. The references are torch.optim (2.15, float32,
/// foreach=False) on w0 = [1, -2] with the gradients of `OptimizerTests`; with α = 0.9999 the
/// first RMSprop step cancels almost all of w[0], so a rounding of 1 − α shows at once.
final class OptimizerRoundingTests: XCTestCase {
    private let gradients: [[Float]] = [[0.5, -0.2], [-0.3, 0.4], [0.1, 0.1]]

    private func trace(_ name: String, _ options: [String: String]) throws -> [[Float]] {
        let entry = try Registries.shared.optimizers.lookup(name)
        let optimizer = try entry.make(Arguments(options: try Options(options, specs: entry.options, owner: name)))
        let p = Parameter(name: "weight", shape: [2])
        p.value.data[0] = 1
        p.value.data[1] = -2
        optimizer.attach([p])
        return gradients.map { g in
            p.grad.data[0] = g[0]
            p.grad.data[1] = g[1]
            optimizer.step()
            return p.value.array
        }
    }

    private func assertClose(_ actual: [[Float]], _ torch: [[UInt32]], relative: Float, file: StaticString = #filePath, line: UInt = #line) {
        for (t, (a, e)) in zip(actual, torch).enumerated() {
            for i in 0..<2 {
                let expected = Float(bitPattern: e[i])
                XCTAssertLessThanOrEqual(abs(a[i] - expected), relative * max(abs(expected), 1e-6),
                                         "step \(t + 1), w[\(i)]: \(a[i]) vs torch \(expected)", file: file, line: line)
            }
        }
    }

    func testRMSpropWithAlphaNearOneFollowsTorch() throws {
        let torch: [[UInt32]] = [[0x3604_0000, 0xbf80_002a], [0x3f03_b74f, 0xbff2_7cfc], [0x3eb0_e192, 0xc007_35f9]]
        // With 1 − α rounded from Float(0.9999), w[0] after step 1 is off by about 8.6e-4.
        assertClose(try trace("rmsprop", ["lr": "0.01", "alpha": "0.9999"]), torch, relative: 2e-3)
        let w0 = try trace("rmsprop", ["lr": "0.01", "alpha": "0.9999"])[0][0]
        XCTAssertLessThan(abs(w0 - Float(bitPattern: 0x3604_0000)), 2e-8, "the cancelled step: \(w0)")
    }

    func testAdamBetasFollowTorch() throws {
        let torch: [[UInt32]] = [[0x3f66_6666, 0xbff3_3333], [0x3f62_f358, 0xbff8_98cc], [0x3f5d_6bdd, 0xbffe_62f7]]
        assertClose(try trace("adam", ["lr": "0.1", "beta1": "0.8", "beta2": "0.9999"]), torch, relative: 1e-6)
    }

    func testSGDDampeningFollowsTorch() throws {
        let torch: [[UInt32]] = [[0x3f73_3333, 0xbffd_70a4], [0x3f6d_0e56, 0xbffe_b852], [0x3f65_bc02, 0xc000_624e]]
        assertClose(try trace("sgd", ["lr": "0.1", "momentum": "0.9", "dampening": "0.3"]), torch, relative: 1e-6)
    }
}
