package dev.smartproxy.event;

import java.util.Map;

/**
 * Counters of a proxy, read at one moment.
 *
 * @param open           connections open now (accepted and not yet closed)
 * @param openByKind     open connections by kind; connections not yet routed are not counted here
 * @param accepted       connections accepted since start
 * @param closedByReason closed connections since start, by reason; each closed connection is
 *                       counted exactly once. Connections refused at admission are here too:
 *                       {@code IP_BLOCKED}, {@code IP_CONNECTION_LIMIT}, {@code RATE_LIMITED},
 *                       {@code ROUTE_CONNECTION_LIMIT}
 * @param refusedRequests HTTP requests answered with 403 or 429 by a route's IP rules
 *                       ({@code IP_BLOCKED}) or maximum ({@code ROUTE_CONNECTION_LIMIT}) on a
 *                       connection that stayed open, by reason
 */
public record ProxyStats(long open, Map<ConnectionKind, Long> openByKind, long accepted,
                         Map<CloseReason, Long> closedByReason, Map<CloseReason, Long> refusedRequests) {
    /** Copies the maps. */
    public ProxyStats {
        openByKind = Map.copyOf(openByKind);
        closedByReason = Map.copyOf(closedByReason);
        refusedRequests = Map.copyOf(refusedRequests);
    }

    /** Counters without refused requests. */
    public ProxyStats(long open, Map<ConnectionKind, Long> openByKind, long accepted,
                      Map<CloseReason, Long> closedByReason) {
        this(open, openByKind, accepted, closedByReason, Map.of());
    }

    /** HTTP requests refused for {@code reason} on connections that stayed open. */
    public long refusedRequests(CloseReason reason) {
        return refusedRequests.getOrDefault(reason, 0L);
    }

    /** Connections closed for {@code reason} since start. */
    public long closed(CloseReason reason) {
        return closedByReason.getOrDefault(reason, 0L);
    }

    /** Open connections of {@code kind}. */
    public long open(ConnectionKind kind) {
        return openByKind.getOrDefault(kind, 0L);
    }

    /** All connections closed since start. */
    public long closedTotal() {
        return closedByReason.values().stream().mapToLong(Long::longValue).sum();
    }
}
