package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;

/**
 * The admission stage of the accept path: an explicit hook, called once per accepted
 * connection after it is registered and before any byte is read, any route is chosen or any
 * backend is touched. A refusal closes the connection with its reason (counted and reported
 * like every close).
 *
 * <p>Today it admits every connection: a documented no-op. IP allow and block lists and
 * connection limits (per route, per client IP), on the real client address, belong here.
 * Not a handler: nothing is added to the pipeline for it.
 */
final class Admission {
    private Admission() {
    }

    /**
     * Why the connection is refused, or null to admit it.
     *
     * @param px   the proxy's shared state (its rules and counters, once there are any)
     * @param conn the connection just accepted and registered
     */
    static CloseReason refusal(ProxyContext px, ManagedConnection conn) {
        return null;
    }
}
