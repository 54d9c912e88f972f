import Foundation
import XCTest

/// What several test files share: where MNIST is, and the walkthrough's model.
enum Fixtures {
    static var mnistFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/mnist").path
    }

    /// Fails the calling test (and skips the rest of it) when MNIST has not been fetched.
    static func requireMNIST(file: StaticString = #filePath, line: UInt = #line) throws {
        let f = mnistFolder
        guard FileManager.default.fileExists(atPath: f + "/train-images-idx3-ubyte.gz")
                || FileManager.default.fileExists(atPath: f + "/train-images-idx3-ubyte") else {
            XCTFail("MNIST is missing from \(f): run scripts/fetch-mnist", file: file, line: line)
            throw XCTSkip("no MNIST")
        }
    }

    /// The walkthrough's 784-120-84-10 model block.
    static let mnistModel = """
        model
          linear 784 120
          relu
          linear 120 84
          relu
          linear 84 10
        end
        """
}
