package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.http.HttpRoute;
import dev.smartproxy.route.Route;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;

/**
 * The admission stage of the accept path: called once per accepted connection after it is
 * registered and before any byte is read, any route is chosen or any backend is touched. A
 * refusal closes the connection with its reason (counted and reported like every close).
 *
 * <p>At accept: the proxy-wide IP allow and block lists ({@code IP_BLOCKED}), then the per-IP
 * limiter ({@code IP_CONNECTION_LIMIT}, {@code RATE_LIMITED}), always on
 * {@link ManagedConnection#clientAddress()}: the real client, once a PROXY protocol header has
 * set it. An admitted connection's permit is released once, from its client channel's close
 * future. When a route is chosen: that route's rules and maximum ({@link #refusedByRoute}, and per
 * HTTP request {@link #requestRefusal}). The proxy-wide maximum is not here: it pauses accepting
 * ({@code AcceptGate}), so nobody is accepted and then closed for it. Not a handler.
 */
final class Admission {
    private static final Logger log = LoggerFactory.getLogger(Admission.class);

    private Admission() {
    }

    /**
     * Why the connection is refused, or null to admit it.
     *
     * @param px   the proxy's shared state (its rules and counters)
     * @param conn the connection just accepted and registered (its client leg watched)
     */
    static CloseReason refusal(ProxyContext px, ManagedConnection conn) {
        return px.admission().atAccept(client(conn), conn.legs().get(0), conn.log());
    }

    /**
     * Checks {@code route}'s own rules and maximum for a connection it takes whole; on a refusal
     * closes the connection with its reason and returns true.
     */
    static boolean refusedByRoute(ProxyContext px, ManagedConnection conn, Channel client, Route route) {
        CloseReason refused = px.admission().routeRefusal(client(conn), client, route);
        if (refused == null) {
            return false;
        }
        log.debug("{}refused by route '{}': {}", conn.log(), route.name(), refused);
        conn.closeReason(refused);
        client.close();
        return true;
    }

    /**
     * The answer to an HTTP request that selected {@code route} and may not use it: 403 by its IP
     * rules, 429 with {@code Retry-After} at its maximum; null to serve it. The connection stays
     * open for requests to other routes (it passed the proxy-wide rules at accept).
     */
    static HttpRoute requestRefusal(ProxyContext px, ManagedConnection conn, Route route) {
        if (!px.admission().routePermits(client(conn), route)) {
            log.debug("{}request refused by route '{}': {}", conn.log(), route.name(), CloseReason.IP_BLOCKED);
            px.registry().requestRefused(CloseReason.IP_BLOCKED);
            return new HttpRoute.Respond(route.name(), 403, "Forbidden");
        }
        if (!px.admission().holdRouteForRequest(conn.legs().get(0), route)) {
            log.debug("{}request refused by route '{}': {}", conn.log(), route.name(),
                    CloseReason.ROUTE_CONNECTION_LIMIT);
            px.registry().requestRefused(CloseReason.ROUTE_CONNECTION_LIMIT);
            return new HttpRoute.Respond(route.name(), 429, "Too Many Requests", 1);
        }
        return null;
    }

    private static InetAddress client(ManagedConnection conn) {
        return conn.clientAddress() == null ? null : conn.clientAddress().getAddress();
    }
}
