package dev.smartproxy.internal.pipeline;

import dev.smartproxy.route.BlockAction;
import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.RedirectAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteAction;
import dev.smartproxy.route.RouteTable;

import java.net.InetAddress;
import java.util.Optional;

/**
 * What the accept path decides from a {@link RouteTable} before (or instead of) reading a
 * ClientHello: which connections can be routed at accept time, which are read first, and which
 * routes act per request. These are runtime details, kept out of the public {@code RouteTable}
 * (whose {@link RouteTable#match} stays the one public routing function; rule 7 there describes
 * the behaviour).
 */
public final class AcceptPlan {
    private AcceptPlan() {
    }

    /**
     * Whether the route reads HTTP: a forward that terminates TLS or is marked {@code http()}, a
     * redirect, a block. The same rule {@link RouteTable#match} applies to HTTP requests.
     */
    public static boolean readsHttp(Route route) {
        RouteAction a = route.action();
        return a instanceof RedirectAction || a instanceof BlockAction
                || (a instanceof ForwardAction f && f.readsHttp());
    }

    /**
     * Whether a connection this route wins is read as HTTP and each of its requests routed on its
     * own (rule 7 of {@link RouteTable}): true for forwards that read HTTP ({@code TERMINATE},
     * {@code TERMINATE_AND_REENCRYPT}, {@code http()}), redirects, and blocks with path or header
     * conditions; false for raw TCP and passthrough forwards, handlers, and blocks without
     * conditions, which act on the connection as a whole.
     */
    public static boolean appliesPerRequest(Route route) {
        if (route.action() instanceof BlockAction) {
            return route.match().needsHttpRequest();
        }
        return readsHttp(route);
    }

    /** Whether any route on {@code port} reads plain HTTP (not TLS): HTTP forwards without TLS, redirects, blocks. */
    public static boolean servesPlainHttp(RouteTable table, int port) {
        return table.routes().stream().anyMatch(r -> r.match().ports().contains(port) && readsHttp(r)
                && !(r.action() instanceof ForwardAction f && f.tlsMode().isPresent()));
    }

    /**
     * What can be decided when a connection is accepted, before a byte is read.
     *
     * <p>The first route in evaluation order that passes the port and client conditions decides:
     * <ul>
     *   <li>if it has no domains and acts on the whole connection (a raw TCP or passthrough
     *       forward, a handler, a block without path or header conditions), it takes the
     *       connection whatever the client sends: the connection is routed at once, so
     *       server-speaks-first protocols work;</li>
     *   <li>if it has domains, or applies per request ({@link #appliesPerRequest(Route)}: it
     *       must know whether the client speaks TLS or plain HTTP), the first bytes are read
     *       first: a ClientHello is matched by its SNI, other bytes are served as plain HTTP
     *       when the port {@linkplain #servesPlainHttp serves it};</li>
     *   <li>if no route passes, nothing can match.</li>
     * </ul>
     */
    public static Decision decide(RouteTable table, int port, InetAddress client) {
        for (Route r : table.routes()) {
            if (r.match().matchesPortAndClient(port, client)) {
                return r.match().needsSni() || appliesPerRequest(r) ? Decision.NEEDS_CLIENT_HELLO : new Decision(r);
            }
        }
        return Decision.NO_ROUTE;
    }

    /** The outcome of {@link #decide}: a route, "read the first bytes (a ClientHello) first", or "no route". */
    public static final class Decision {
        static final Decision NEEDS_CLIENT_HELLO = new Decision(null);
        static final Decision NO_ROUTE = new Decision(null);

        private final Route route;

        private Decision(Route route) {
            this.route = route;
        }

        /** The route chosen at accept time, if one could be. */
        public Optional<Route> route() {
            return Optional.ofNullable(route);
        }

        /**
         * Whether the first bytes must be read before a route can be chosen: a ClientHello (for
         * its SNI, or to terminate TLS), or plain HTTP.
         */
        public boolean needsClientHello() {
            return this == NEEDS_CLIENT_HELLO;
        }

        /** Whether no route can take a connection on this port from this client. */
        public boolean noRoute() {
            return this == NO_ROUTE;
        }

        @Override
        public String toString() {
            return route != null ? "route " + route.name() : this == NEEDS_CLIENT_HELLO ? "needs ClientHello" : "no route";
        }
    }
}
