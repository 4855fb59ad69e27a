package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.event.TlsHandshake;
import dev.smartproxy.event.WebSocketClose;
import dev.smartproxy.internal.metrics.MetricsRecorder;
import dev.smartproxy.internal.metrics.OpenTotals;
import dev.smartproxy.internal.metrics.RouteCounters;
import dev.smartproxy.metrics.ClientConnections;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.TlsFailureCause;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSession;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The metrics and the events of what connections carry (backend connects, TLS handshakes, HTTP
 * exchanges, WebSockets), for one {@link ConnectionRegistry}. The I/O code calls it with
 * primitives: metrics are counted directly (the recorder is not a listener), and an event object
 * is built only when some listener overrides the method of its type (a listener of HTTP exchanges
 * alone costs the other events nothing; {@link #wantsHttpExchanges()} for the exchange's caller).
 *
 * <p>{@link #sample()} runs once a second off the I/O path; {@link #snapshot} on the caller's
 * thread. Both walk the open connections once. Thread-safe.
 */
public final class Telemetry {
    private static final Logger log = LoggerFactory.getLogger(Telemetry.class);

    private final ConnectionRegistry registry;
    private final MetricsRecorder metrics = new MetricsRecorder();

    Telemetry(ConnectionRegistry registry) {
        this.registry = registry;
    }

    /** The counters. */
    public MetricsRecorder metrics() {
        return metrics;
    }

    /** Whether some listener takes HTTP exchanges: build no {@link HttpExchange} otherwise. */
    public boolean wantsHttpExchanges() {
        return registry.listeners().wants(ListenerSet.Event.HTTP_EXCHANGE);
    }

    // ---------------------------------------------------------------- from the registry

    void routed(ManagedConnection c, ConnectionKind kind, String routeName) {
        metrics.routed(kind);
        // An HTTP connection routed request by request has no route of its own: its exchanges
        // count by route (httpByRoute), the connection only by kind.
        if (routeName != null && !routeName.equals(ConnectionRegistry.PER_REQUEST)) {
            RouteCounters r = metrics.route(routeName);
            r.routed();
            c.routeCounters(r);
        }
    }

    void closed(ManagedConnection c) {
        long in = c.bytesFromClient();
        long out = c.bytesToClient();
        metrics.closed(c.kind(), in, out);
        RouteCounters r = c.routeCounters();
        if (r != null) {
            r.closed(in, out);
        }
        if (c.webSocketCounted()) {
            metrics.webSocketClosed();
        }
    }

    // ---------------------------------------------------------------- sampling and snapshots

    /** The byte totals now: the closed ones read first, then the open connections not yet finished. */
    OpenTotals openTotals(Map<InetAddress, long[]> perClient) {
        OpenTotals t = metrics.openTotals();
        addOpen(t, perClient);
        return t;
    }

    /**
     * Adds the open connections to {@code t}, skipping those already finished: their bytes may be
     * in the closed totals {@code t} read before (see {@link OpenTotals}).
     */
    void addOpen(OpenTotals t, Map<InetAddress, long[]> perClient) {
        registry.forEachOpen(c -> {
            if (c.finished()) {
                return;
            }
            t.add(c.routeCounters(), c.bytesFromClient(), c.bytesToClient());
            if (perClient != null && c.clientAddress() != null && c.clientAddress().getAddress() != null) {
                perClient.computeIfAbsent(c.clientAddress().getAddress(), a -> new long[1])[0]++;
            }
        });
    }

    /**
     * After a live route update to a table naming {@code routeNames} and targeting
     * {@code backendHosts}: forgets the counters of what is gone and no open connection uses
     * ({@link MetricsRecorder#forget}).
     */
    public void routesChanged(java.util.Set<String> routeNames, java.util.Set<String> backendHosts) {
        java.util.Set<RouteCounters> inUse = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        registry.forEachOpen(c -> {
            RouteCounters r = c.routeCounters();
            if (r != null) {
                inUse.add(r);
            }
        });
        metrics.forget(routeNames, inUse, backendHosts);
    }

    /** The sampler's tick: reads every total once into the rolling windows. */
    public void sample() {
        metrics.sample(openTotals(null));
    }

    /** A snapshot of everything, taken at {@code now}. */
    public ProxyMetrics snapshot(Instant now, long bufferedBytes) {
        Map<InetAddress, long[]> perClient = new HashMap<>();
        OpenTotals open = openTotals(perClient);
        ProxyStats stats = registry.stats();
        Map<TlsFailureCause, Long> clientTls = new EnumMap<>(TlsFailureCause.class);
        clientTls.putAll(metrics.tlsFailures(true));
        long renegotiations = stats.closed(CloseReason.TLS_RENEGOTIATION_REFUSED);
        if (renegotiations > 0) {
            clientTls.merge(TlsFailureCause.RENEGOTIATION, renegotiations, Long::sum);
        }
        return new ProxyMetrics(now, metrics.bytesIn(open), metrics.bytesOut(open), stats.open(), stats.accepted(),
                metrics.byKind(stats.openByKind()), stats.closedByReason(), metrics.byRoute(open),
                metrics.byBackend(), metrics.httpByRoute(),
                metrics.webSockets(stats.closed(CloseReason.HEARTBEAT_TIMEOUT)), clientTls,
                metrics.tlsFailures(false), topClients(perClient), bufferedBytes);
    }

    /** At most {@link ProxyMetrics#TOP_CLIENTS} addresses, most connections first (ties: by address text). */
    static List<ClientConnections> topClients(Map<InetAddress, long[]> perClient) {
        List<ClientConnections> all = new ArrayList<>(perClient.size());
        perClient.forEach((a, n) -> all.add(new ClientConnections(a, n[0])));
        all.sort((x, y) -> x.open() != y.open() ? Long.compare(y.open(), x.open())
                : x.address().getHostAddress().compareTo(y.address().getHostAddress()));
        return all.size() > ProxyMetrics.TOP_CLIENTS ? List.copyOf(all.subList(0, ProxyMetrics.TOP_CLIENTS)) : all;
    }

    // ---------------------------------------------------------------- events (and their metrics)

    /** A backend connection of {@code c} was established after {@code connectNanos}. */
    public void backendConnected(ManagedConnection c, InetSocketAddress backend, long connectNanos) {
        if (registry.listeners().wants(ListenerSet.Event.BACKEND_CONNECTED)) {
            Duration d = Duration.ofNanos(connectNanos);
            fire(c, ListenerSet.Event.BACKEND_CONNECTED, l -> l.onBackendConnected(c.info(), backend, d));
        }
    }

    /**
     * A TLS handshake of {@code c} ended: on the client leg or a backend leg, failed with
     * {@code cause} (null: it succeeded), negotiated by {@code ssl}, after {@code nanos}.
     */
    public void tlsHandshake(ManagedConnection c, boolean clientLeg, Throwable cause, SslHandler ssl, long nanos) {
        TlsFailureCause why = null;
        if (cause != null) {
            why = TlsFailures.classify(cause, c.closeReason(), clientLeg);
            metrics.tlsFailure(clientLeg, why);
        }
        if (!registry.listeners().wants(ListenerSet.Event.TLS_HANDSHAKE)) {
            return;
        }
        String protocol = null;
        String cipher = null;
        if (cause == null && ssl != null) {
            SSLSession s = ssl.engine().getSession();
            protocol = s.getProtocol();
            cipher = s.getCipherSuite();
        }
        TlsHandshake h = new TlsHandshake(clientLeg ? CloseReason.Side.CLIENT : CloseReason.Side.BACKEND,
                cause == null, protocol, cipher, cause == null ? null : TlsFailures.describe(why, cause),
                Duration.ofNanos(Math.max(0, nanos)));
        fire(c, ListenerSet.Event.TLS_HANDSHAKE, l -> l.onTlsHandshake(c.info(), h));
    }

    /** A TLS handshake of {@code c} failed before it started, for want of a certificate. */
    public void noCertificate(ManagedConnection c) {
        metrics.tlsFailure(true, TlsFailureCause.NO_CERTIFICATE);
        if (registry.listeners().wants(ListenerSet.Event.TLS_HANDSHAKE)) {
            TlsHandshake h = new TlsHandshake(CloseReason.Side.CLIENT, false, null, null,
                    TlsFailureCause.NO_CERTIFICATE + ": no certificate for the name and no default", Duration.ZERO);
            fire(c, ListenerSet.Event.TLS_HANDSHAKE, l -> l.onTlsHandshake(c.info(), h));
        }
    }

    /** Delivers an HTTP exchange event (build it only when {@link #wantsHttpExchanges()}). */
    public void httpExchange(ManagedConnection c, HttpExchange exchange) {
        fire(c, ListenerSet.Event.HTTP_EXCHANGE, l -> l.onHttpExchange(exchange));
    }

    /** {@code c} was upgraded to a WebSocket through the proxy (request target {@code path}). */
    public void webSocketUpgraded(ManagedConnection c, String path) {
        metrics.webSocketUpgraded();
        c.webSocketCounted(true);
        if (registry.listeners().wants(ListenerSet.Event.WEBSOCKET_UPGRADED)) {
            fire(c, ListenerSet.Event.WEBSOCKET_UPGRADED, l -> l.onWebSocketUpgraded(c.info(), path));
        }
    }

    /** A WebSocket of {@code c} ended: close codes (0: none) and data messages each way. */
    public void webSocketClosed(ManagedConnection c, int clientCode, int backendCode, long fromClient,
                                long fromBackend) {
        if (registry.listeners().wants(ListenerSet.Event.WEBSOCKET_CLOSED)) {
            WebSocketClose w = new WebSocketClose(clientCode, backendCode, fromClient, fromBackend);
            fire(c, ListenerSet.Event.WEBSOCKET_CLOSED, l -> l.onWebSocketClosed(c.info(), w));
        }
    }

    private void fire(ManagedConnection c, ListenerSet.Event type, Consumer<ProxyEventListener> event) {
        for (ProxyEventListener l : registry.listeners().of(type)) {
            try {
                event.accept(l);
            } catch (RuntimeException e) {
                log.warn("{}event listener {} failed", c.log(), l, e);
            }
        }
    }
}
