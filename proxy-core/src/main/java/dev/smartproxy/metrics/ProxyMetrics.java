package dev.smartproxy.metrics;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What a proxy has done since it was built, read at one moment ({@code SmartProxy.metrics()}):
 * counters are totals since start, {@link Rate}s add per-second rates over 1 s, 10 s and 60 s,
 * gauges ({@code open}) are values now. Before {@code start()} every count is zero. Counters are
 * read one by one without a global lock, so two related counts may differ by the traffic of the
 * instant the snapshot was taken. Immutable.
 *
 * <pre>{@code
 * ProxyMetrics m = proxy.metrics();
 * log.info("in {} B/s, out {} B/s, open {}, 5xx on api: {}", m.bytesIn().last10Seconds(),
 *     m.bytesOut().last10Seconds(), m.open(),
 *     m.httpByRoute().get("api").responses(StatusClass.SERVER_ERROR));
 * }</pre>
 *
 * @param takenAt            when the snapshot was taken
 * @param bytesIn            bytes received from clients (all kinds; TLS records as read, for
 *                           passthrough and terminated alike)
 * @param bytesOut           bytes sent to clients
 * @param open               client connections open now (routed or not)
 * @param accepted           client connections accepted since start
 * @param byKind             routed connections by kind; every kind present
 * @param closedByReason     closed client connections by reason (refusals at accept included);
 *                           only reasons that occurred
 * @param byRoute            connections and bytes by route name; a route appears once a connection
 *                           was routed to it. Only connections with a route of their own count: an
 *                           HTTP connection routed request by request counts in {@code byKind},
 *                           its exchanges in {@code httpByRoute}
 * @param byBackend          backend connections by {@code host:port} as configured
 * @param httpByRoute        HTTP exchanges by route name ({@link HttpMetrics#NO_ROUTE} for the
 *                           requests the proxy answered without a route)
 * @param webSockets         WebSockets the proxy reads
 * @param clientTlsFailures  failed TLS handshakes with clients (terminated routes), by cause;
 *                           only causes that occurred
 * @param backendTlsFailures failed TLS handshakes with backends (re-encrypting routes), by cause
 * @param topClients         at most 10 client IPs with the most open connections, most first
 * @param bufferedBytes      bytes held for clients now, as counted against the buffer budget
 */
public record ProxyMetrics(Instant takenAt, Rate bytesIn, Rate bytesOut, long open, long accepted,
                           Map<ConnectionKind, KindMetrics> byKind, Map<CloseReason, Long> closedByReason,
                           Map<String, RouteMetrics> byRoute, Map<String, BackendMetrics> byBackend,
                           Map<String, HttpMetrics> httpByRoute, WebSocketMetrics webSockets,
                           Map<TlsFailureCause, Long> clientTlsFailures, Map<TlsFailureCause, Long> backendTlsFailures,
                           List<ClientConnections> topClients, long bufferedBytes) {
    /** The most client IPs {@link #topClients()} lists. */
    public static final int TOP_CLIENTS = 10;

    /** Copies the collections. */
    public ProxyMetrics {
        byKind = Map.copyOf(byKind);
        closedByReason = Map.copyOf(closedByReason);
        byRoute = Map.copyOf(byRoute);
        byBackend = Map.copyOf(byBackend);
        httpByRoute = Map.copyOf(httpByRoute);
        clientTlsFailures = Map.copyOf(clientTlsFailures);
        backendTlsFailures = Map.copyOf(backendTlsFailures);
        topClients = List.copyOf(topClients);
    }

    /** All zeros, taken at {@code at}: the metrics of a proxy that has not started. */
    public static ProxyMetrics empty(Instant at) {
        Map<ConnectionKind, KindMetrics> kinds = new java.util.EnumMap<>(ConnectionKind.class);
        for (ConnectionKind k : ConnectionKind.values()) {
            kinds.put(k, KindMetrics.ZERO);
        }
        return new ProxyMetrics(at, Rate.ZERO, Rate.ZERO, 0, 0, kinds, Map.of(), Map.of(), Map.of(), Map.of(),
                WebSocketMetrics.ZERO, Map.of(), Map.of(), List.of(), 0);
    }

    /** The connections of {@code kind}. */
    public KindMetrics kind(ConnectionKind kind) {
        return byKind.getOrDefault(kind, KindMetrics.ZERO);
    }

    /** Connections closed for {@code reason}. */
    public long closed(CloseReason reason) {
        return closedByReason.getOrDefault(reason, 0L);
    }

    /** All closed connections. */
    public long closedTotal() {
        return closedByReason.values().stream().mapToLong(Long::longValue).sum();
    }
}
