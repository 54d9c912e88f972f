import MLPEngine

/// The entry point mlpsh calls after loading the library: joins the MPI job and hands the
/// engine its communicator. It registers no layers.
@_cdecl("mlpsh_plugin_init")
public func mlpshPluginInit(_ host: UnsafeMutableRawPointer) -> Int32 {
    PluginHost.connect(host, plugin: "MPI", builtAgainst: engineVersion) { _ in
        guard Distributed.communicator == nil else { return }
        Distributed.communicator = try MPICommunicator()
    }
}
