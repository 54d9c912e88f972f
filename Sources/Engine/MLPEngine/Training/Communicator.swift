/// The processes that train one model together, data parallel, as torch.distributed's process
/// group or Horovod's communicator: each is a rank among `size`, every rank runs the same
/// script, and the trainer sums the gradients across them once a batch. The engine knows only
/// this protocol; an implementation over MPI is the MPI plugin (plugins/MPI).
public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< size; rank 0 prints and writes files.
    var rank: Int { get }
    var size: Int { get }
    /// The ranks on this machine, which share its cores.
    var localSize: Int { get }
    /// What `device` shows: "mpi: 2 ranks (Open MPI v4.1.4)".
    var summary: String { get }
    /// Sums `count` values across the ranks, in place on every rank. Every rank calls the
    /// collectives in the same order with the same counts.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    func sum(_ values: UnsafeMutablePointer<Double>, count: Int)
    /// Rank `root`'s `count` bytes, to every rank.
    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, from root: Int)
    /// Leaves the job; no collective may follow.
    func finish()
}

/// The job this process is part of: set once at start by the MPI plugin when mlpsh runs
/// under mpirun, nil when it runs alone (then nothing here is in the way).
public enum Distributed {
    nonisolated(unsafe) public static var communicator: Communicator?

    /// The communicator when there is more than one rank.
    public static var group: Communicator? {
        guard let c = communicator, c.size > 1 else { return nil }
        return c
    }

    /// Whether this process prints and writes files: rank 0, or a process on its own.
    public static var isLead: Bool { (communicator?.rank ?? 0) == 0 }

    /// Thrown on every rank once the ranks agreed that one of them failed (that rank says
    /// why): each stops where it is, and no collective follows.
    public struct PeerFailure: Error {
        public init() {}
    }
}

extension Communicator {
    /// Sums each element of `values` across the ranks.
    public func sum(_ values: inout [Double]) {
        let count = values.count
        values.withUnsafeMutableBufferPointer { sum($0.baseAddress!, count: count) }
    }

    /// Rank `root`'s values, to every rank (the arrays have the same count on every rank).
    public func broadcast<T>(_ values: inout [T], from root: Int) {
        let bytes = values.count * MemoryLayout<T>.stride
        values.withUnsafeMutableBytes { broadcast($0.baseAddress!, count: bytes, from: root) }
    }

    /// The agreement that opens a run of collectives (training, evaluation): every rank
    /// says it is ready. A rank that failed the statement instead is in its own agreement,
    /// the same collective, so the ranks meet and all stop (PeerFailure) instead of waiting
    /// in different collectives.
    public func agreeToStart() throws {
        if whoSays(false).contains(true) { throw Distributed.PeerFailure() }
    }

    /// Every rank's `values` compared before the collectives they size: the same on every
    /// rank, or the same error on every rank naming the first that differs. (Ranks whose data
    /// or model differ would meet in collectives of different sizes: memory corruption, or a
    /// wait without end.)
    public func agreeOnSizes(_ values: [(name: String, value: Int)]) throws {
        let k = values.count
        var all = [Double](repeating: 0, count: size * k)
        for (i, v) in values.enumerated() { all[rank * k + i] = Double(v.value) }
        sum(&all)
        for i in 0..<k {
            for r in 1..<size where all[r * k + i] != all[i] {
                throw EngineError("the ranks differ: \(values[i].name) is \(Int(all[i])) on rank 0 but \(Int(all[r * k + i])) on rank \(r) (each rank must load the same data and model)")
            }
        }
    }

    /// Which ranks say true, known to every rank.
    public func whoSays(_ flag: Bool) -> [Bool] {
        var votes = [Double](repeating: 0, count: size)
        votes[rank] = flag ? 1 : 0
        sum(&votes)
        return votes.map { $0 > 0 }
    }

    /// Rank 0's parameters and buffers, to every rank (as DistributedDataParallel does at its
    /// start, and with its buffers before each forward pass).
    public func broadcastState(of model: Sequential, parameters: Bool = true) {
        if parameters {
            let storage = model.parameterStorage
            broadcast(UnsafeMutableRawPointer(storage.base), count: storage.count * 4, from: 0)
        }
        for (_, b) in model.namedBuffers {
            switch b.values {
            case .f32(let t): broadcast(UnsafeMutableRawPointer(t.data), count: t.count * 4, from: 0)
            case .i64(var v):
                broadcast(&v, from: 0)
                b.values = .i64(v)
            }
        }
    }
}
