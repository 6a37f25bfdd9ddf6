import Synchronization

/// The open files (or folders) of a mount by the handle the kernel got for them: the kernel's handle is looked
/// up, never trusted as a pointer, so a handle that names nothing fails the request instead of the process.
final class HandleTable<Value: Sendable>: Sendable {
    private struct Table {
        var values: [UInt64: Value] = [:]
        var next: UInt64 = 1
    }

    private let table = Mutex(Table())

    func insert(_ value: Value) -> UInt64 {
        table.withLock { table in
            let handle = table.next
            table.next += 1
            table.values[handle] = value
            return handle
        }
    }

    /// Puts back a handle a previous server of the kernel connection gave (`MountHandover`).
    func restore(_ value: Value, at handle: UInt64) {
        table.withLock { table in
            table.values[handle] = value
            table.next = max(table.next, handle &+ 1)
        }
    }

    func value(_ handle: UInt64) -> Value? {
        table.withLock { $0.values[handle] }
    }

    func remove(_ handle: UInt64) -> Value? {
        table.withLock { $0.values.removeValue(forKey: handle) }
    }
}
