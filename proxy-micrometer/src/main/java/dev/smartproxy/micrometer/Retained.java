package dev.smartproxy.micrometer;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.TlsFailureCause;

import java.util.HashMap;
import java.util.Map;

/**
 * Keeps the keys a snapshot no longer lists (a route removed by a route update, a backend no route
 * names any more): their totals stay as last seen, their open counts and rates become 0. So a
 * meter's counter never goes down and its gauge reads 0, whether or not it was read in between.
 */
final class Retained {
    private Retained() {
    }

    /** {@code now}, plus what {@code before} had and {@code now} lacks. */
    static ProxyMetrics merge(ProxyMetrics before, ProxyMetrics now) {
        Map<String, RouteMetrics> routes = keep(before.byRoute(), now.byRoute(), r -> new RouteMetrics(r.route(), 0,
                r.routed(), r.closed(), totalOnly(r.bytesIn()), totalOnly(r.bytesOut())));
        Map<String, BackendMetrics> backends = keep(before.byBackend(), now.byBackend(), b -> new BackendMetrics(
                b.backend(), 0, b.connects(), b.connectFailures(), b.connectTime()));
        Map<CloseReason, Long> closed = keep(before.closedByReason(), now.closedByReason(), v -> v);
        Map<TlsFailureCause, Long> clientTls = keep(before.clientTlsFailures(), now.clientTlsFailures(), v -> v);
        Map<TlsFailureCause, Long> backendTls = keep(before.backendTlsFailures(), now.backendTlsFailures(), v -> v);
        if (routes == now.byRoute() && backends == now.byBackend() && closed == now.closedByReason()
                && clientTls == now.clientTlsFailures() && backendTls == now.backendTlsFailures()) {
            return now;
        }
        return new ProxyMetrics(now.takenAt(), now.bytesIn(), now.bytesOut(), now.open(), now.accepted(), now.byKind(),
                closed, routes, backends, now.httpByRoute(), now.webSockets(), clientTls, backendTls,
                now.topClients(), now.bufferedBytes());
    }

    private static Rate totalOnly(Rate r) {
        return new Rate(r.total(), 0, 0, 0);
    }

    /** {@code now} itself when it has every key of {@code before}; else a copy with the missing ones retired. */
    private static <K, V> Map<K, V> keep(Map<K, V> before, Map<K, V> now, java.util.function.UnaryOperator<V> retire) {
        if (now.keySet().containsAll(before.keySet())) {
            return now;
        }
        Map<K, V> merged = new HashMap<>(now);
        before.forEach((k, v) -> merged.putIfAbsent(k, retire.apply(v)));
        return merged;
    }
}
