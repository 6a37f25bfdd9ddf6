import MantaPeer
import MantaStore
import Prometheus
import Synchronization

/// The agent's Prometheus metrics, read from the store and the peer server when scraped.
final class AgentMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let store: Store
    let peerServer = Mutex<PeerServer?>(nil)
    private let storedBytes: Gauge
    private let logicalBytes: Gauge
    private let chunks: Gauge
    private let models: Gauge
    private let servedBytes: Gauge
    private let passthroughBytes: Gauge

    init(store: Store) {
        self.store = store
        let registry = registry
        func gauge(_ subsystem: String, _ name: String, unit: String = "", help: String) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "manta", subsystem: subsystem, metricName: name, unitName: unit, helpText: help))
        }
        storedBytes = gauge("store", "stored", unit: "bytes", help: "Bytes the chunk files take on disk.")
        logicalBytes = gauge("store", "logical", unit: "bytes", help: "Bytes of all files of all models in the store.")
        chunks = gauge("store", "chunks", help: "Distinct chunks in the store.")
        models = gauge("store", "models", help: "Model references in the store.")
        servedBytes = gauge("peer", "served", unit: "bytes", help: "Chunk and manifest bytes sent to peers since start.")
        passthroughBytes = gauge(
            "store", "passthrough", unit: "bytes",
            help: "Bytes the mount's passthrough copies take beside the chunks; counted against the quota, and evicted first.")
    }

    func render() -> [UInt8] {
        if let usage = try? store.usage() {
            storedBytes.set(Double(usage.storedBytes))
            logicalBytes.set(Double(usage.logicalBytes))
            chunks.set(Double(usage.chunkCount))
            models.set(Double(usage.modelCount))
        }
        passthroughBytes.set(Double(store.passthroughBytes()))
        if let server = peerServer.withLock({ $0 }) { servedBytes.set(Double(server.totalBytesServed)) }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
