package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.http.HttpProxyHandler;
import dev.smartproxy.internal.http.HttpRoute;
import dev.smartproxy.internal.http.HttpRouter;
import dev.smartproxy.internal.http.RequestGate;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.tls.ClientTlsGuard;
import dev.smartproxy.internal.websocket.WebSocketRelay;
import dev.smartproxy.route.BlockAction;
import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.RedirectAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.Target;
import dev.smartproxy.route.TlsMode;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The terminated branch of a client pipeline: TLS termination (certificate by SNI) when the
 * client speaks TLS, then HTTP/1.1 with requests routed one by one, and WebSockets handed to
 * the relay that owns the heartbeat. Passthrough and plain connections never get here, so they
 * can never be pinged.
 */
final class HttpBranch {
    private static final Logger log = LoggerFactory.getLogger(HttpBranch.class);

    private HttpBranch() {
    }

    /**
     * Installs the branch at the end of {@code client}'s pipeline; the connection is already
     * registered ({@link ConnectionRouter}).
     *
     * @param tls             whether the client speaks TLS that the proxy terminates
     * @param sni             the SNI name, if any
     * @param connectionRoute the route chosen for the connection, or null on a plain-HTTP port
     *                        routed only per request
     */
    static void install(ProxyContext px, ManagedConnection conn, Channel client, boolean tls, String sni,
                        Route connectionRoute, ConnectionActions actions) {
        ChannelPipeline p = client.pipeline();
        SslContext ctx = null;
        SslHandler ssl = null;
        // Read once: the handshake's context and every later Host check come from the same store,
        // even if the certificates are replaced while this connection lives.
        CertificateStore certificates = px.certificates();
        if (tls) {
            ctx = certificates.select(sni);
            if (ctx == null) {
                log.debug("{}no certificate for '{}' and no default", conn.log(), sni);
                conn.closeReason(CloseReason.TLS_HANDSHAKE_FAILED);
                conn.telemetry().noCertificate(conn);
                client.close();
                return;
            }
            // The client's opening gets initialDataTimeout again for the rest of the handshake
            // (Netty's own default would be a fixed 10 s); set before the handler starts its timer.
            ssl = ctx.newHandler(client.alloc());
            ssl.setHandshakeTimeoutMillis(px.policy().initialDataTimeout().toMillis());
            p.addLast(PipelineNames.TLS, ssl);
            p.addBefore(PipelineNames.TLS, PipelineNames.TLS_GUARD, new ClientTlsGuard(conn, ssl));
            // After the guard's listener, which records the close reason the cause is read from.
            SslHandler handshaking = ssl;
            long tlsStart = System.nanoTime();
            ssl.handshakeFuture().addListener(f -> conn.telemetry().tlsHandshake(conn, true, f.cause(), handshaking,
                    System.nanoTime() - tlsStart));
        }
        var http = px.httpSettings();
        p.addLast(PipelineNames.HTTP_GATE, new RequestGate());
        p.addLast(PipelineNames.HTTP_CODEC, HttpProxyHandler.newServerCodec(http));
        // Requests are served one at a time, so the route of the last request is the one an
        // upgrade belongs to: its WebSocket settings apply, else the proxy's.
        Route[] lastRoute = new Route[1];
        boolean secure = tls;
        ClientIdentity identity = new ClientIdentity(certificates, conn, ctx, ssl, sni);
        HttpRouter router = new HttpRouter() {
            @Override
            public HttpRoute route(String host, String path, HttpHeaders headers) {
                return route(host, path, path, headers);
            }

            @Override
            public HttpRoute route(String host, String path, String pathAndQuery, HttpHeaders headers) {
                HttpRoute misdirected = identity.before(host, headers);
                if (misdirected != null) {
                    return misdirected;
                }
                HttpRoute r = HttpBranch.route(px, conn, sni, secure, host, path, pathAndQuery, headers, lastRoute);
                if (r instanceof HttpRoute.Forward) {
                    identity.forwarding(headers);
                }
                return r;
            }
        };
        p.addLast(PipelineNames.HTTP_PROXY, new HttpProxyHandler(http, conn, tls, router,
                px.connector(), (clientCh, backendCh) -> {
                    WebSocketSettings ws = lastRoute[0] != null && lastRoute[0].action() instanceof ForwardAction f
                            ? f.webSocket().orElse(px.webSocketSettings()) : px.webSocketSettings();
                    WebSocketRelay.install(clientCh, backendCh, ws, conn, actions, px.budget());
                    // From here the relay counts frame payloads (the proxy's own heartbeat excluded),
                    // so the raw counters go: bytes are counted once, and pings are not activity.
                    removeIfPresent(clientCh.pipeline(), PipelineNames.BYTES);
                    removeIfPresent(backendCh.pipeline(), PipelineNames.BYTES);
                }));
    }

    private static void removeIfPresent(ChannelPipeline p, String name) {
        if (p.get(name) != null) {
            p.remove(name);
        }
    }

    private static HttpRoute route(ProxyContext px, ManagedConnection conn, String sni, boolean tls, String host,
                                   String path, String pathAndQuery, HttpHeaders headers, Route[] lastRoute) {
        // Each new request reads the route table in force now, once, and is routed by it alone.
        RouteSnapshot routing = px.routing();
        RouteTable table = routing.table();
        Map<String, String> h = Map.of(); // built only when some route matches on headers
        if (table.matchesHeaders()) {
            Map<String, String> all = new HashMap<>();
            headers.forEach(e -> all.putIfAbsent(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
            h = all;
        }
        RouteRequest request = new RouteRequest(conn.routePort(), conn.clientAddress().getAddress(), sni, host,
                path, h, tls);
        Optional<Route> match = table.match(request);
        if (match.isEmpty()) {
            return new HttpRoute.Respond("(no route)", 404, "no route for this host and path");
        }
        Route r = match.get();
        HttpRoute refused = Admission.requestRefusal(px, conn, r);
        if (refused != null) {
            return refused;
        }
        lastRoute[0] = r;
        RouteRetirements.recordRoute(px, conn, r, routing);
        if (r.action() instanceof RedirectAction redirect) {
            // No Host (HTTP/1.0): the name the client asked for in its SNI, if it sent one, which
            // is also the name the request was routed by; with neither, no URL can be built.
            String target = host != null ? host : sni;
            if (target == null && redirect.usesHost()) {
                log.debug("{}redirect route '{}': no Host and no SNI to redirect to", conn.log(), r.name());
                return new HttpRoute.Respond(r.name(), 400, "no Host to redirect to");
            }
            return new HttpRoute.Redirect(r.name(), redirect.status(),
                    redirect.locationFor(target, pathAndQuery, conn.routePort()));
        }
        if (r.action() instanceof BlockAction) {
            return new HttpRoute.Respond(r.name(), 403, "blocked");
        }
        ForwardAction f = (ForwardAction) r.action();
        Target t = routing.nextTarget(r, f);
        int port = t.portFor(conn.routePort());
        if (f.tlsMode().orElse(null) == TlsMode.TERMINATE_AND_REENCRYPT) {
            BackendTls btls = f.backendTls();
            String backendSni = btls.sni().orElse(NetUtil.isValidIpV4Address(t.host())
                    || NetUtil.isValidIpV6Address(t.host()) ? null : t.host());
            return new HttpRoute.Forward(r.name(), t.host(), port, px.backendContext(btls), backendSni,
                    f.sendProxyProtocol().orElse(null));
        }
        return new HttpRoute.Forward(r.name(), t.host(), port, null, null, f.sendProxyProtocol().orElse(null));
    }
}
