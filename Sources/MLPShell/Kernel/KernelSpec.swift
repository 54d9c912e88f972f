import Foundation
import MLPEngine

/// `mlpsh kernel install [--user|--prefix DIR]`: the kernelspec (kernel.json) that lets
/// Jupyter start `mlpsh kernel {connection_file}`, where `jupyter kernelspec list` finds it.
public enum KernelSpec {
    /// Writes it and returns its folder. `executable` is this program's path.
    public static func install(arguments: [String], executable: String) throws -> String {
        var base = "/usr/local/share/jupyter"
        var rest = arguments[...]
        while let a = rest.popFirst() {
            switch a {
            case "--user":
                let data = ProcessInfo.processInfo.environment["XDG_DATA_HOME"] ?? (NSHomeDirectory() + "/.local/share")
                base = data + "/jupyter"
            case "--prefix":
                guard let dir = rest.popFirst() else { throw EngineError("kernel install: --prefix needs a folder") }
                base = dir + "/share/jupyter"
            default:
                throw EngineError("kernel install: unknown option '\(a)' (use --user or --prefix DIR)")
            }
        }
        let folder = base + "/kernels/mlpsh"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let spec: [String: Any] = ["argv": [executable, "kernel", "{connection_file}"], "display_name": "mlpsh",
                                   "language": "mlpsh", "interrupt_mode": "signal", "metadata": ["debugger": false]]
        let json = try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(Array(json) + [10], to: folder + "/kernel.json")
        // The logo Jupyter shows beside the kernel's name, drawn as the figures are (librsvg).
        for size in [32, 64] {
            try AtomicFile.write(try PNGRaster.png(fromSVG: logo, width: size, height: size, scale: 1), to: folder + "/logo-\(size)x\(size).png")
        }
        try AtomicFile.write(logo, to: folder + "/logo-svg.svg")
        return folder
    }

    /// A dark square with "mlp" and a prompt's caret.
    static let logo = """
        <svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
        <rect x="2" y="2" width="60" height="60" rx="10" fill="#1f3b57"/>
        <text x="32" y="31" font-family="DejaVu Sans Mono" font-size="19" font-weight="bold" fill="#ffffff" text-anchor="middle">mlp</text>
        <text x="32" y="53" font-family="DejaVu Sans Mono" font-size="17" fill="#f5a623" text-anchor="middle">&gt;_</text>
        </svg>
        """

    /// This program's absolute path.
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
