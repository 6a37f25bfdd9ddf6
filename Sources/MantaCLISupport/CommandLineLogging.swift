import Logging

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public enum CommandLineLogging {
    /// Logs to standard error, at the level `MANTA_LOG_LEVEL` names (default `notice`).
    public static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["MANTA_LOG_LEVEL"] ?? "") ?? .notice
            return handler
        }
    }
}
