import Crypto
import Foundation

/// One message of Jupyter's messaging protocol (5.3): the routing identities, then
/// `<IDS|MSG>`, the HMAC-SHA256 signature of the four JSON parts that follow (header, parent
/// header, metadata, content), those parts, and any buffers.
struct KernelMessage {
    var identities: [Data] = []
    var header: [String: Any]
    var parent: [String: Any] = [:]
    var metadata: [String: Any] = [:]
    var content: [String: Any]

    var type: String { header["msg_type"] as? String ?? "" }

    static let delimiter = Data("<IDS|MSG>".utf8)

    /// Signs and checks messages with the connection file's key (no key: unsigned).
    struct Signer {
        let key: SymmetricKey?

        func signature(_ parts: [Data]) -> String {
            guard let key else { return "" }
            var mac = HMAC<SHA256>(key: key)
            for p in parts { mac.update(data: p) }
            return Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
        }

        /// Whether `given` is the parts' signature, compared in constant time.
        func verify(_ given: Data, _ parts: [Data]) -> Bool {
            guard key != nil else { return true }
            let expected = Data(signature(parts).utf8)
            guard expected.count == given.count else { return false }
            return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// A message from its frames: nil when it is malformed or its signature is wrong.
    init?(frames: [Data], signer: Signer) {
        guard let at = frames.firstIndex(of: Self.delimiter), frames.count >= at + 6 else { return nil }
        let parts = Array(frames[(at + 2)..<(at + 6)])
        guard signer.verify(frames[at + 1], parts) else { return nil }
        func object(_ d: Data) -> [String: Any]? { (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] }
        guard let h = object(parts[0]), let p = object(parts[1]), let m = object(parts[2]), let c = object(parts[3]) else { return nil }
        identities = Array(frames[..<at])
        header = h
        parent = p
        metadata = m
        content = c
    }

    /// A new message of `type` in reply to (or caused by) `parent`.
    init(type: String, content: [String: Any], parent: KernelMessage?, session: String) {
        header = ["msg_id": UUID().uuidString, "session": session, "username": "mlpsh", "msg_type": type, "version": "5.3",
                  "date": ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                                      formatOptions: [.withInternetDateTime, .withFractionalSeconds])]
        self.parent = parent?.header ?? [:]
        self.content = content
        identities = parent?.identities ?? []
    }

    /// The frames to send, signed.
    func frames(signer: Signer, identities given: [Data]? = nil) -> [Data] {
        func json(_ o: [String: Any]) -> Data { (try? JSONSerialization.data(withJSONObject: o)) ?? Data("{}".utf8) }
        let parts = [json(header), json(parent), json(metadata), json(content)]
        return (given ?? identities) + [Self.delimiter, Data(signer.signature(parts).utf8)] + parts
    }
}
