package dev.smartproxy.internal.metrics;

import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.HttpMetrics;
import dev.smartproxy.metrics.KindMetrics;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.StatusClass;
import dev.smartproxy.metrics.TlsFailureCause;
import dev.smartproxy.metrics.WebSocketMetrics;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Every metric counter of one proxy. The I/O path only increments: per-route, per-backend and
 * per-HTTP-route counter objects are looked up here once (per connection, backend connection or
 * exchange) and held; bytes of open connections stay on their records and are summed by the
 * sampler ({@link #sample}, once a second) and by snapshots. Thread-safe.
 */
public final class MetricsRecorder {
    private static final ConnectionKind[] KINDS = ConnectionKind.values();
    private static final StatusClass[] CLASSES = StatusClass.values();
    private static final TlsFailureCause[] CAUSES = TlsFailureCause.values();

    private final ConcurrentHashMap<String, RouteCounters> routes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, BackendCounters> backends = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, HttpCounters> http = new ConcurrentHashMap<>();
    private final LongAdder[] routedByKind = adders(KINDS.length);
    private final LongAdder[] closedByKind = adders(KINDS.length);
    private final LongAdder closedBytesIn = new LongAdder();
    private final LongAdder closedBytesOut = new LongAdder();
    private final RateWindow bytesIn = new RateWindow();
    private final RateWindow bytesOut = new RateWindow();
    private final LongAdder wsUpgraded = new LongAdder();
    private final LongAdder wsClosed = new LongAdder();
    private final LongAdder wsFromClients = new LongAdder();
    private final LongAdder wsFromBackends = new LongAdder();
    private final LongAdder[] clientTls = adders(CAUSES.length);
    private final LongAdder[] backendTls = adders(CAUSES.length);

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    /** The counters of route {@code name}, made on first use. */
    public RouteCounters route(String name) {
        RouteCounters c = routes.get(name);
        return c != null ? c : routes.computeIfAbsent(name, RouteCounters::new);
    }

    /** The counters of backend {@code hostPort}, made on first use. */
    public BackendCounters backend(String hostPort) {
        BackendCounters c = backends.get(hostPort);
        return c != null ? c : backends.computeIfAbsent(hostPort, BackendCounters::new);
    }

    /** The HTTP counters of route {@code name} ({@link HttpMetrics#NO_ROUTE} for the proxy's own answers). */
    public HttpCounters http(String name) {
        HttpCounters c = http.get(name);
        return c != null ? c : http.computeIfAbsent(name, HttpCounters::new);
    }

    /**
     * After a live route update: forgets the counters of routes the new table does not name
     * ({@code routeNames}) and no open connection holds ({@code inUse}), the HTTP counters of
     * routes it does not name, and the counters of backends on hosts no route targets any more
     * ({@code backendHosts}) that have no open connection. The proxy-wide totals already hold all
     * they counted, so no total goes down; the per-route and per-backend figures of what was
     * forgotten leave the snapshots (and start from zero if the name comes back).
     */
    public void forget(Set<String> routeNames, Set<RouteCounters> inUse, Set<String> backendHosts) {
        routes.values().removeIf(r -> !routeNames.contains(r.name) && !inUse.contains(r));
        http.values().removeIf(h -> !h.route.equals(HttpMetrics.NO_ROUTE) && !routeNames.contains(h.route));
        backends.values().removeIf(b -> {
            long closed = b.closed.sum(); // read first: open is never negative
            int colon = b.name.lastIndexOf(':');
            String host = colon < 0 ? b.name : b.name.substring(0, colon);
            return b.connects.sum() - closed <= 0 && !backendHosts.contains(host);
        });
    }

    /** Route names with counters now (tests). */
    Set<String> routeNames() {
        return Set.copyOf(routes.keySet());
    }

    /** Backends with counters now (tests). */
    Set<String> backendNames() {
        return Set.copyOf(backends.keySet());
    }

    /** A connection was routed with {@code kind}. */
    public void routed(ConnectionKind kind) {
        routedByKind[kind.ordinal()].increment();
    }

    /** A connection closed: its kind (null if never routed) and its bytes from and to its client. */
    public void closed(ConnectionKind kind, long in, long out) {
        if (kind != null) {
            closedByKind[kind.ordinal()].increment();
        }
        closedBytesIn.add(in);
        closedBytesOut.add(out);
    }

    /** A connection was upgraded to a WebSocket the proxy reads. */
    public void webSocketUpgraded() {
        wsUpgraded.increment();
    }

    /** A WebSocket connection closed. */
    public void webSocketClosed() {
        wsClosed.increment();
    }

    /** {@code n} data messages (their first frames) were relayed from a client ({@code true}) or a backend. */
    public void webSocketMessages(boolean fromClient, int n) {
        (fromClient ? wsFromClients : wsFromBackends).add(n);
    }

    /** A TLS handshake failed on the client leg ({@code true}) or a backend leg. */
    public void tlsFailure(boolean clientLeg, TlsFailureCause cause) {
        (clientLeg ? clientTls : backendTls)[cause.ordinal()].increment();
    }

    /**
     * Starts a reading of the byte totals: reads the closed totals, proxy-wide and per route, now;
     * the caller then adds the connections still open that are not {@linkplain
     * dev.smartproxy.internal.connection.ManagedConnection finished} ({@link OpenTotals#add}).
     * Closed first, open after: see {@link OpenTotals} for why nothing is counted twice.
     */
    public OpenTotals openTotals() {
        Map<RouteCounters, long[]> closedByRoute = new java.util.IdentityHashMap<>();
        for (RouteCounters r : routes.values()) {
            closedByRoute.put(r, new long[] {r.closedBytesIn.sum(), r.closedBytesOut.sum()});
        }
        return new OpenTotals(closedBytesIn.sum(), closedBytesOut.sum(), closedByRoute);
    }

    /** The sampler's tick: adds the totals (closed plus {@code open}) to every window. */
    public void sample(OpenTotals open) {
        bytesIn.add(open.closedIn + open.bytesIn);
        bytesOut.add(open.closedOut + open.bytesOut);
        for (RouteCounters r : routes.values()) {
            long[] o = open.byRoute.get(r);
            long[] c = open.closed(r);
            r.bytesIn.add(c[0] + (o == null ? 0 : o[1]));
            r.bytesOut.add(c[1] + (o == null ? 0 : o[2]));
        }
    }

    // ---------------------------------------------------------------- snapshot parts

    public Rate bytesIn(OpenTotals open) {
        return bytesIn.rate(open.closedIn + open.bytesIn);
    }

    public Rate bytesOut(OpenTotals open) {
        return bytesOut.rate(open.closedOut + open.bytesOut);
    }

    /** By kind, every kind present, with the open counts given. */
    public Map<ConnectionKind, KindMetrics> byKind(Map<ConnectionKind, Long> openByKind) {
        Map<ConnectionKind, KindMetrics> out = new EnumMap<>(ConnectionKind.class);
        for (ConnectionKind k : KINDS) {
            out.put(k, new KindMetrics(openByKind.getOrDefault(k, 0L), routedByKind[k.ordinal()].sum(),
                    closedByKind[k.ordinal()].sum()));
        }
        return out;
    }

    public Map<String, RouteMetrics> byRoute(OpenTotals open) {
        Map<String, RouteMetrics> out = new HashMap<>();
        for (RouteCounters r : routes.values()) {
            long[] o = open.byRoute.get(r);
            long[] c = open.closed(r);
            long in = c[0] + (o == null ? 0 : o[1]);
            long outBytes = c[1] + (o == null ? 0 : o[2]);
            out.put(r.name, new RouteMetrics(r.name, o == null ? 0 : o[0], r.routed.sum(), r.closed.sum(),
                    r.bytesIn.rate(in), r.bytesOut.rate(outBytes)));
        }
        return out;
    }

    public Map<String, BackendMetrics> byBackend() {
        Map<String, BackendMetrics> out = new HashMap<>();
        for (BackendCounters b : backends.values()) {
            long closed = b.closed.sum(); // read first: open is never negative
            long connects = b.connects.sum();
            out.put(b.name, new BackendMetrics(b.name, Math.max(0, connects - closed), connects, b.failures.sum(),
                    b.connectTime.snapshot()));
        }
        return out;
    }

    public Map<String, HttpMetrics> httpByRoute() {
        Map<String, HttpMetrics> out = new HashMap<>();
        for (HttpCounters h : http.values()) {
            Map<StatusClass, Long> responses = new EnumMap<>(StatusClass.class);
            for (StatusClass c : CLASSES) {
                responses.put(c, h.responses[c.ordinal()].sum());
            }
            out.put(h.route, new HttpMetrics(h.route, responses, h.latency.snapshot()));
        }
        return out;
    }

    /** WebSockets, with the heartbeat timeouts (connections closed for {@code HEARTBEAT_TIMEOUT}) given. */
    public WebSocketMetrics webSockets(long heartbeatTimeouts) {
        long closed = wsClosed.sum();
        long upgraded = wsUpgraded.sum();
        return new WebSocketMetrics(Math.max(0, upgraded - closed), upgraded, wsFromClients.sum(),
                wsFromBackends.sum(), heartbeatTimeouts);
    }

    /** TLS failures by cause on the client legs ({@code true}) or backend legs; only causes that occurred. */
    public Map<TlsFailureCause, Long> tlsFailures(boolean clientLeg) {
        Map<TlsFailureCause, Long> out = new EnumMap<>(TlsFailureCause.class);
        LongAdder[] a = clientLeg ? clientTls : backendTls;
        for (TlsFailureCause c : CAUSES) {
            long n = a[c.ordinal()].sum();
            if (n != 0) {
                out.put(c, n);
            }
        }
        return out;
    }
}
