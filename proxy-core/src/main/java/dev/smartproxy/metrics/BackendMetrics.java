package dev.smartproxy.metrics;

/**
 * Connections to one backend: TCP relays and the backend connections of HTTP exchanges.
 *
 * @param backend         {@code host:port} as the route's target names it (not the resolved address)
 * @param open            backend connections open now
 * @param connects        connections established since start
 * @param connectFailures attempts that failed (refused, timed out, unresolvable...) since start
 * @param connectTime     the time from starting to connect to connected, for the established ones
 *                        (TCP only; a backend TLS handshake is not included)
 */
public record BackendMetrics(String backend, long open, long connects, long connectFailures,
                             LatencyHistogram connectTime) {
}
