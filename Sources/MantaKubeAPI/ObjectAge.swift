import Foundation

/// An object's age as kubectl prints it: `45s`, `3m`, `2h`, `4d`.
public enum ObjectAge {
    public static func text(since created: Date?, now: Date) -> String {
        guard let created else { return "<unknown>" }
        let seconds = max(0, Int(now.timeIntervalSince(created)))
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
