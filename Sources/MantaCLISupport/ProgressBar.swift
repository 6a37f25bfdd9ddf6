import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A one-line progress bar on standard error, drawn only when it is a terminal, at most ten times a second.
public final class ProgressBar: Sendable {
    private struct State {
        var done: UInt64 = 0
        var total: UInt64
        var lastDraw: Double = 0
        var started = Date().timeIntervalSince1970
    }

    private let label: String
    private let enabled = StandardError.isTerminal
    private let state: Mutex<State>

    public init(label: String, total: UInt64 = 0) {
        self.label = label
        state = Mutex(State(total: total))
    }

    public func set(_ done: UInt64, of total: UInt64? = nil) {
        guard enabled else { return }
        state.withLock { state in
            state.done = done
            if let total { state.total = total }
            draw(&state)
        }
    }

    public func advance(_ bytes: UInt64) {
        guard enabled else { return }
        state.withLock { state in
            state.done += bytes
            draw(&state)
        }
    }

    public func finish() {
        guard enabled else { return }
        StandardError.write("\n")
    }

    private func draw(_ state: inout State) {
        let now = Date().timeIntervalSince1970
        guard now - state.lastDraw >= 0.1 || state.done >= state.total else { return }
        state.lastDraw = now
        let fraction = state.total == 0 ? 1 : min(1, Double(state.done) / Double(state.total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = now - state.started
        let rate = elapsed > 0 ? UInt64(Double(state.done) / elapsed) : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line =
            "\r\(label) \(bar) \(Int(fraction * 100))% \(ByteCount.format(state.done))/\(ByteCount.format(state.total)) \(ByteCount.format(rate))/s "
        StandardError.write(line)
    }
}
