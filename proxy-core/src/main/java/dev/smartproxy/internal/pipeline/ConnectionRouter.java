package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.connection.EffectivePolicies;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.relay.TcpRelay;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.BlockAction;
import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.HandlerAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteAction;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.Target;
import dev.smartproxy.route.TlsMode;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;

/**
 * The route, register and branch stages of the accept path, for one connection: given the route
 * (chosen at accept time, or by the ClientHello peek), it records the connection with its kind,
 * route and effective policy (the only place a routed connection is registered), then installs
 * exactly one branch:
 * <ul>
 *   <li>the TCP relay ({@link TcpRelay}) for a forward route that relays bytes (passthrough,
 *       plain TCP);</li>
 *   <li>TLS termination and the HTTP proxy ({@link HttpBranch}) for a route that applies per
 *       request, and for plain HTTP on a port that serves it;</li>
 *   <li>the route's own handler for a handler route;</li>
 *   <li>nothing for a block without conditions: the connection closes with {@code BLOCKED}.</li>
 * </ul>
 * Not a handler: it runs once, on the connection's event loop, and leaves nothing behind but the
 * branch it installed.
 *
 * <p>The kind says what the connection is: TLS that the proxy does not open (it opened with a
 * ClientHello, or a {@code PASSTHROUGH} route took it at accept) is {@code PASSTHROUGH}, TLS the
 * proxy terminates is {@code TERMINATED}, anything else {@code PLAIN}; a block is tagged by what
 * it is on the wire the same way, and a handler route is {@code PLAIN}.
 */
final class ConnectionRouter implements ClientHelloClassifier.Router {
    private static final Logger log = LoggerFactory.getLogger(ConnectionRouter.class);

    private final ProxyContext px;
    private final ManagedConnection conn;
    private final Channel client;
    /** The route snapshot the connection read at accept: its route and target come from it. */
    private final RouteSnapshot routing;

    ConnectionRouter(ProxyContext px, ManagedConnection conn, Channel client, RouteSnapshot routing) {
        this.px = px;
        this.conn = conn;
        this.client = client;
        this.routing = routing;
    }

    /** A router for a connection that reads the snapshot in force now (tests). */
    ConnectionRouter(ProxyContext px, ManagedConnection conn, Channel client) {
        this(px, conn, client, px.routing());
    }

    /** Routes a connection chosen at accept time (no byte read) by its route's action. */
    void routeAtAccept(Route route) {
        routeTo(route, null, false);
    }

    /**
     * Routes the connection by its route's action. A route that applies per request
     * ({@link AcceptPlan#appliesPerRequest}) gets the HTTP branch, which terminates TLS when the
     * route is a TLS-terminating forward or the connection opened with a ClientHello
     * ({@code clientHello}): a redirect or a conditional block is then answered over TLS, per
     * request, never in plaintext to a TLS client.
     */
    @Override
    public void routeTo(Route route, String sni, boolean clientHello) {
        RouteAction action = route.action();
        if (!AcceptPlan.appliesPerRequest(route) && Admission.refusedByRoute(px, conn, client, route)) {
            return; // HTTP routes are checked per request, in HttpBranch
        }
        if (AcceptPlan.appliesPerRequest(route)) {
            boolean tls = clientHello || action instanceof ForwardAction f && f.tlsMode().isPresent();
            httpBranch(tls, sni, route);
        } else if (action instanceof ForwardAction f) {
            relay(route, f, sni);
        } else if (action instanceof BlockAction) {
            block(route, sni);
        } else if (action instanceof HandlerAction h) {
            handOver(route, h, sni);
        } else {
            throw new IllegalStateException("route '" + route.name() + "': unknown action " + action);
        }
    }

    /** Plain HTTP on a port whose routes read HTTP: requests are routed one by one. */
    @Override
    public void serveHttp(Route connectionRoute) {
        httpBranch(false, null, connectionRoute);
    }

    /**
     * The register stage: records the route, kind and effective policy and starts the timers,
     * which close the connection through {@code actions}.
     */
    private void register(ConnectionKind kind, Route route, String routeName, RoutePolicy overrides, String sni,
                          ConnectionActions actions) {
        px.registry().routed(conn, kind, routeName, sni, EffectivePolicies.of(px.policy(), overrides, kind),
                EventLoopScheduler.of(client.eventLoop()), actions);
        // After the timers start, so a live update that raced this connection can retire it.
        RouteRetirements.recordRoute(px, conn, route, routing);
    }

    /** What closes a connection that has one leg when a timer expires. */
    private void closeClient(CloseReason reason) {
        log.debug("{}closing: {}", conn.log(), reason);
        client.close();
    }

    /**
     * The kind of a connection the proxy does not open is what its route does with the bytes: a
     * {@code PASSTHROUGH} forward relays TLS unopened; a forward with no TLS mode is raw TCP
     * ({@code PLAIN}, with the plain half-close grace) whatever the client sent, ClientHello
     * included; a block relays nothing and is {@code PLAIN}, never passthrough.
     */
    private static ConnectionKind unopenedKind(ForwardAction f) {
        return f != null && f.tlsMode().filter(m -> m == TlsMode.PASSTHROUGH).isPresent()
                ? ConnectionKind.PASSTHROUGH : ConnectionKind.PLAIN;
    }

    private void httpBranch(boolean tls, String sni, Route connectionRoute) {
        ConnectionKind kind = tls ? ConnectionKind.TERMINATED : ConnectionKind.PLAIN;
        RoutePolicy overrides = connectionRoute == null ? RoutePolicy.none() : connectionRoute.policy();
        ConnectionActions actions = this::closeClient;
        String name = connectionRoute == null
                ? dev.smartproxy.internal.connection.ConnectionRegistry.PER_REQUEST : connectionRoute.name();
        register(kind, connectionRoute, name, overrides, sni, actions);
        HttpBranch.install(px, conn, client, tls, sni, connectionRoute, actions);
        client.pipeline().addLast(PipelineNames.CLIENT_ERRORS, ClientErrors.httpBranch(conn));
    }

    /** A forward route that relays bytes: records it, picks a target, installs the relay and starts the connect. */
    private void relay(Route route, ForwardAction action, String sni) {
        ConnectionKind kind = unopenedKind(action);
        Target target = routing.nextTarget(route, action);
        InetSocketAddress address = Transport.targetAddress(target.host(), target.portFor(conn.routePort()));
        conn.backendAddress(address);
        TcpRelay relay = new TcpRelay(conn, px.budget(), px.policy().maxPendingDataSize(),
                action.sendProxyProtocol().orElse(null));
        register(kind, route, route.name(), route.policy(), sni, relay);
        log.debug("{}route '{}' ({}) -> {}", conn.log(), route.name(), kind, address);
        client.pipeline().addLast(PipelineNames.RELAY, relay);
        relay.connect(px.connector(), address, conn.policy().tcpKeepAlive(), px.registry());
    }

    /** A block without path or header conditions: recorded, then closed with reason BLOCKED; nothing is forwarded. */
    private void block(Route route, String sni) {
        register(unopenedKind(null), route, route.name(), route.policy(), sni, this::closeClient);
        log.debug("{}blocked by route '{}'", conn.log(), route.name());
        conn.closeReason(CloseReason.BLOCKED);
        client.close();
    }

    /**
     * A handler route: the user's handler joins the pipeline, after the handler of client socket
     * errors; the bytes already read reach it first.
     */
    private void handOver(Route route, HandlerAction action, String sni) {
        register(ConnectionKind.PLAIN, route, route.name(), route.policy(), sni, this::closeClient);
        client.pipeline().addLast(PipelineNames.CLIENT_ERRORS, ClientErrors.beforeUserHandler(conn));
        client.pipeline().addLast(PipelineNames.USER, action.factory().newHandler(conn.info()));
        log.debug("{}handed to route '{}'s handler", conn.log(), route.name());
    }
}
