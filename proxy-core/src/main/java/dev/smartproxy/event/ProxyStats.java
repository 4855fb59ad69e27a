package dev.smartproxy.event;

import java.util.Map;

/**
 * Counters of a proxy, read at one moment.
 *
 * @param open           connections open now (accepted and not yet closed)
 * @param openByKind     open connections by kind; connections not yet routed are not counted here
 * @param accepted       connections accepted since start
 * @param closedByReason closed connections since start, by reason; each closed connection is
 *                       counted exactly once
 */
public record ProxyStats(long open, Map<ConnectionKind, Long> openByKind, long accepted,
                         Map<CloseReason, Long> closedByReason) {
    /** Copies the maps. */
    public ProxyStats {
        openByKind = Map.copyOf(openByKind);
        closedByReason = Map.copyOf(closedByReason);
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
