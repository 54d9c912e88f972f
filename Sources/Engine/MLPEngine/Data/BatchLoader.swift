/// Walks a data set in batches: an index order (shuffled from the session's random source at
/// the start of each pass when asked), and one float buffer that each batch is converted into.
public final class BatchLoader {
    public let dataset: Dataset
    public let batchSize: Int
    public private(set) var order: [Int32]
    public let x = Tensor()
    public private(set) var labels: UnsafeMutablePointer<Int32>

    public init(dataset: Dataset, batchSize: Int) {
        self.dataset = dataset
        self.batchSize = batchSize
        order = (0..<Int32(dataset.count)).map { $0 }
        // A batch larger than the data set holds the whole set: size the buffers for that.
        let rows = max(1, min(batchSize, dataset.count))
        labels = .allocate(capacity: rows)
        x.reshape(rows: rows, sample: dataset.sampleShape)
    }

    deinit { labels.deallocate() }

    public var batchCount: Int { (dataset.count + batchSize - 1) / batchSize }

    /// Starts a pass: the natural order, or a fresh permutation (as DataLoader's shuffle).
    public func start(shuffle: Bool, random: RandomGenerator) {
        if shuffle {
            for i in order.indices { order[i] = Int32(i) }
            random.source.shuffle(&order)
        }
    }

    /// Fills `x` and `labels` with batch `b` of the pass; returns its size.
    @discardableResult
    public func load(batch b: Int) -> Int {
        load(rows: batchRows(b))
    }

    /// The positions in the pass of batch `b`.
    public func batchRows(_ b: Int) -> Range<Int> {
        let start = b * batchSize
        return start..<min(start + batchSize, dataset.count)
    }

    /// Rank `rank`'s share of batch `b` among `ranks`: a contiguous part, sizes differing
    /// by at most one (a batch of 64 on 3 ranks: 21, 21, 22).
    public func share(ofBatch b: Int, rank: Int, of ranks: Int) -> Range<Int> {
        let rows = batchRows(b), n = rows.count
        return (rows.lowerBound + n * rank / ranks)..<(rows.lowerBound + n * (rank + 1) / ranks)
    }

    /// Replaces the pass's order (every rank takes rank 0's shuffle).
    public func setOrder(_ newOrder: [Int32]) {
        precondition(newOrder.count == order.count)
        order = newOrder
    }

    /// Fills `x` and `labels` with the samples at positions `rows` of the pass (at most
    /// `batchSize` of them); returns their count.
    @discardableResult
    public func load(rows: Range<Int>) -> Int {
        let start = rows.lowerBound, size = rows.count
        x.reshape(rows: size, sample: dataset.sampleShape)
        let width = dataset.features, dataset = dataset, x = x.data, labels = labels
        order.withUnsafeBufferPointer { o in
            let indices = UnsafeBufferPointer(rebasing: o[start..<(start + size)])
            guard dataset.fillsConcurrently else {
                dataset.fill(indices: indices, x: x, labels: labels)
                return
            }
            // Each core converts a part of the batch's rows.
            Parallel.shared.forEachSlice(of: size, minimum: 2) { first, count in
                dataset.fill(indices: UnsafeBufferPointer(rebasing: indices[first..<(first + count)]),
                             x: x + first * width, labels: labels + first)
            }
        }
        return size
    }
}
