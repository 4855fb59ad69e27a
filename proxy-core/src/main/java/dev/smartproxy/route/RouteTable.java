package dev.smartproxy.route;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The routing decision as a pure function: immutable, thread-safe, no sockets.
 *
 * <p>The proxy calls {@link #match(RouteRequest)} for every connection; tests call the same
 * method on the table of a built proxy ({@code proxy.routes()}) or on one built here.
 *
 * <h2>Rules</h2>
 * <ol>
 *   <li>Routes are tried by {@linkplain Route#priority() priority}, highest first; equal
 *       priorities keep declaration order. The first route whose conditions all hold wins.</li>
 *   <li>Ports: the request's port must be in the route's ports.</li>
 *   <li>Client address: if the route lists {@code clientIps}, the client address must match one
 *       (IPv4-mapped IPv6 is treated as IPv4).</li>
 *   <li>Domains: if the route lists domains, the SNI name must match one. <b>No SNI, no domain
 *       route:</b> a connection without SNI can only be taken by routes without domains; even
 *       {@code *} needs a name. {@code *.example.com} matches subdomains at any depth but not
 *       {@code example.com}; case and a trailing dot are ignored.</li>
 *   <li>No match: empty. The proxy then closes the connection (reason {@code NO_ROUTE} or
 *       {@code NO_SNI}); it never forwards to a guess.</li>
 *   <li>HTTP requests ({@link RouteRequest#isHttpRequest()}) on connections the proxy reads
 *       are routed one by one: only routes that read HTTP take part (forwards that terminate TLS
 *       or are marked {@code http()}, redirects, blocks), their domains are matched against the
 *       request's {@code Host} (the SNI name when a request has none), and their paths and
 *       headers must match too. A TLS-terminating forward takes only requests that came over TLS
 *       ({@link RouteRequest#tls()}), an {@code http()} forward only cleartext ones; redirects
 *       and blocks take both.</li>
 *   <li>At the connection level, path and header conditions are left for the requests: a route
 *       that has them can win a connection whatever its requests will be. What the proxy then
 *       does with the connection depends on the winner:
 *       <ul>
 *         <li>a raw TCP or passthrough forward, a handler, or a block <em>without</em> path or
 *             header conditions acts on the whole connection (a block closes it at once with
 *             reason {@code BLOCKED});</li>
 *         <li>a route that applies per request (a forward that reads HTTP, a redirect, a block
 *             <em>with</em> path or header conditions) never decides more than how the
 *             connection is read: a connection that opened with a TLS ClientHello is
 *             terminated with the certificate chosen for its SNI (no certificate: the handshake
 *             fails, reason {@code TLS_HANDSHAKE_FAILED}), a cleartext one is read as plain
 *             HTTP (where a route on the port reads cleartext HTTP; a cleartext client of a port without such routes
 *             fails the TLS handshake of a terminating winner), and then each request is
 *             routed by rule 6, so
 *             {@code paths("/admin/").block()} before a {@code TERMINATE} route for the same
 *             domain answers {@code /admin/x} with 403 and forwards {@code /public}, and a TLS
 *             client of a redirect route gets its redirect over TLS.</li>
 *       </ul>
 *       A route that applies per request is never chosen when the connection is accepted:
 *       the proxy reads the first bytes to tell TLS from plain HTTP. A route without domains
 *       that acts on the whole connection, and is the first on its port to admit the client,
 *       is chosen at accept time, before a byte is read (so server-speaks-first protocols work).
 *       {@code SmartProxy.Builder#build()} rejects combinations that cannot work this way, such
 *       as path conditions in front of a passthrough route for the same names.</li>
 * </ol>
 * <pre>{@code
 * RouteTable table = RouteTable.of(List.of(apiRoute, catchAll));
 * assertThat(table.match(RouteRequest.builder().port(443).sni("api.example.com").build()))
 *     .contains(apiRoute);
 * }</pre>
 */
public final class RouteTable {
    private final List<Route> ordered;
    private final PortSet ports;
    private final boolean matchesHeaders;

    private RouteTable(List<Route> routes) {
        List<Route> sorted = new ArrayList<>(routes);
        sorted.sort(Comparator.comparingInt(Route::priority).reversed()); // stable: keeps declaration order
        this.ordered = List.copyOf(sorted);
        PortSet all = null;
        for (Route r : ordered) {
            all = all == null ? r.match().ports() : all.union(r.match().ports());
        }
        this.ports = all;
        this.matchesHeaders = ordered.stream().anyMatch(r -> !r.match().headers().isEmpty());
    }

    /**
     * A table of the given routes, in declaration order.
     *
     * @throws IllegalArgumentException if the list is empty or two routes share a name
     */
    public static RouteTable of(List<Route> routes) {
        Objects.requireNonNull(routes, "routes");
        if (routes.isEmpty()) {
            throw new IllegalArgumentException("routes: none (expected: at least one route)");
        }
        Set<String> names = new HashSet<>();
        for (Route r : routes) {
            Objects.requireNonNull(r, "route");
            if (!names.add(r.name())) {
                throw new IllegalArgumentException("route name: '" + r.name() + "' is used twice (expected: unique names)");
            }
        }
        return new RouteTable(routes);
    }

    /** The routes in evaluation order: priority descending, then declaration order. */
    public List<Route> routes() {
        return ordered;
    }

    /** Every port some route listens on. */
    public PortSet ports() {
        return ports;
    }

    /**
     * Whether some route has header conditions. When none has, the headers of a
     * {@link RouteRequest} never change what {@link #match} returns, so a caller may leave
     * them out (the proxy then builds no header map per request).
     */
    public boolean matchesHeaders() {
        return matchesHeaders;
    }

    /** The first route, in evaluation order, that takes the request; empty if none does. */
    public Optional<Route> match(RouteRequest request) {
        Objects.requireNonNull(request, "request");
        boolean http = request.isHttpRequest();
        String name = http && request.host() != null ? request.host() : request.sni();
        for (Route r : ordered) {
            RouteMatch m = r.match();
            if (!m.matchesPortAndClient(request.port(), request.clientAddress()) || !m.matchesSni(name)) {
                continue;
            }
            if (http && (!readsHttp(r) || !servesTransport(r, request.tls())
                    || !m.matchesRequest(request.path(), request.headers()))) {
                continue;
            }
            return Optional.of(r);
        }
        return Optional.empty();
    }

    /**
     * Whether an HTTP request that came over TLS ({@code tls}) or in the clear may use the route:
     * a forward that terminates TLS takes only TLS requests, an {@code http()} forward only plain
     * ones (so a cleartext request can never reach a route written for TLS), redirects and
     * blocks take both.
     */
    private static boolean servesTransport(Route route, boolean tls) {
        return !(route.action() instanceof ForwardAction f) || f.tlsMode().isPresent() == tls;
    }

    /**
     * Whether the route reads HTTP: a forward that terminates TLS or is marked http(), a redirect,
     * a block (the accept path's {@code AcceptPlan.readsHttp} is the same rule).
     */
    private static boolean readsHttp(Route route) {
        RouteAction a = route.action();
        return a instanceof RedirectAction || a instanceof BlockAction
                || (a instanceof ForwardAction f && f.readsHttp());
    }

    @Override
    public String toString() {
        return "RouteTable" + ordered;
    }
}
