import CZMQ
import Foundation
import MLPEngine

/// A ZeroMQ socket bound to one address, sending and receiving multipart messages of bytes.
/// Each socket is used by one thread only, as ZeroMQ requires.
final class ZMQSocket {
    private let socket: UnsafeMutableRawPointer

    init(context: UnsafeMutableRawPointer, type: Int32, address: String) throws {
        guard let s = zmq_socket(context, type) else { throw EngineError("kernel: cannot make a ZeroMQ socket") }
        socket = s
        var linger: Int32 = 1000
        zmq_setsockopt(s, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_bind(s, address) == 0 else {
            throw EngineError("kernel: cannot listen on \(address) (\(String(cString: zmq_strerror(zmq_errno()))))")
        }
    }

    deinit { zmq_close(socket) }

    /// Waits up to `milliseconds` for a message; true when one can be read.
    func poll(_ milliseconds: Int) -> Bool {
        var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        return zmq_poll(&item, 1, milliseconds) > 0 && (item.revents & Int16(ZMQ_POLLIN)) != 0
    }

    /// The frames of the next message (nil when interrupted by a signal).
    func receive() -> [Data]? {
        var frames: [Data] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            guard zmq_msg_recv(&msg, socket, 0) >= 0 else { return nil }
            frames.append(Data(bytes: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }

    func send(_ frames: [Data]) {
        for (i, f) in frames.enumerated() {
            let flags = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            _ = f.withUnsafeBytes { zmq_send(socket, $0.baseAddress, f.count, flags) }
        }
    }
}
