import Synchronization

/// Misbehaviour a test can make a `HubServer` show, to prove that clients cope. Package access: the tests of this
/// package reach it, a program built on MantaHub does not.
package enum HubFault: Sendable, Hashable {
    /// Answer with this status (e.g. 500, 503, 404) instead of the real answer; 429/503 may carry `Retry-After`.
    case status(Int, retryAfterSeconds: Int? = nil)
    /// Answer 401 with `X-Error-Code: GatedRepo`, as the hub does for a gated repository without access.
    case gated
    /// Send the headers of a full answer, then `bytes` bytes of the body, then close the connection.
    case resetAfter(bytes: Int)
    /// Send the right number of bytes with some of them changed.
    case corruptBody
    /// Redirect a `resolve` request to the same path on another endpoint (`http://host:port`), as the hub does to its CDN.
    case redirect(toEndpoint: String)

    /// Faults that change a response body rather than replace the response.
    var altersBody: Bool {
        switch self {
        case .resetAfter, .corruptBody: true
        case .status, .gated, .redirect: false
        }
    }
}

/// Which requests a fault applies to.
package enum HubFaultScope: Sendable, Hashable {
    /// `/api/...` metadata requests.
    case api
    /// `/{repo}/resolve/...` file requests.
    case resolve
    case any
}

/// Faults waiting to be served: each rule applies to the next `times` matching requests, in the order added.
package final class HubFaults: Sendable {
    private struct Rule {
        var fault: HubFault
        var scope: HubFaultScope
        var pathSuffix: String?
        var remaining: Int
    }

    private let rules = Mutex<[Rule]>([])

    package init() {}

    /// Makes the next `times` requests in `scope` whose URL path ends with `pathSuffix` (any, if nil) show `fault`.
    package func inject(_ fault: HubFault, times: Int = 1, on scope: HubFaultScope = .any, pathSuffix: String? = nil) {
        rules.withLock { $0.append(Rule(fault: fault, scope: scope, pathSuffix: pathSuffix, remaining: max(0, times))) }
    }

    package func removeAll() { rules.withLock { $0.removeAll() } }

    /// Rules not yet used up.
    package var pendingCount: Int { rules.withLock { $0.reduce(0) { $0 + $1.remaining } } }

    /// Takes one use of the first rule that matches; body faults are taken only where a body is sent.
    func take(path: String, scope: HubFaultScope, forBody: Bool) -> HubFault? {
        rules.withLock { rules in
            guard
                let index = rules.firstIndex(where: { rule in
                    rule.remaining > 0 && rule.fault.altersBody == forBody
                        && (rule.scope == .any || rule.scope == scope)
                        && rule.pathSuffix.map { path.hasSuffix($0) } ?? true
                })
            else { return nil }
            rules[index].remaining -= 1
            return rules[index].fault
        }
    }
}
