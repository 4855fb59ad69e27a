package dev.smartproxy;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.internal.util.Checks;
import dev.smartproxy.route.BlockAction;
import dev.smartproxy.route.DomainPattern;
import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.RedirectAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The route combinations {@link SmartProxy.Builder#build()} rejects because a block or redirect
 * route in them can never act as written (see rule 7 of {@link RouteTable}: such a route, when
 * it wins a TLS connection, has it terminated and its requests routed one by one).
 *
 * <ol>
 *   <li><b>Path or header conditions in front of a passthrough route.</b> A redirect or block
 *       with paths or headers that wins TLS connections a later {@code PASSTHROUGH} route on the
 *       same port would take (same names, clients that may meet): those connections are
 *       terminated for the conditional route, the passthrough route never sees them, and the
 *       requests that miss the conditions find no route. The proxy cannot read paths inside a
 *       passthrough stream, so the fix is a terminating route, or no conditions.</li>
 *   <li><b>No certificate at all, on a TLS port.</b> A redirect, or a block with paths or
 *       headers, all of whose ports carry a {@code PASSTHROUGH} route (so its clients speak TLS),
 *       that wins TLS connections for some name there, while the proxy has no certificate: every
 *       such connection would fail its handshake.</li>
 * </ol>
 * Which route wins a name is found by probing the route table the way
 * {@link RouteTable#match} does, with one name per domain pattern; a route restricted to some
 * client addresses never counts as taking a name away from another.
 */
final class RouteRules {
    /** A label no real configuration is expected to name, to probe wildcard patterns. */
    private static final String PROBE = "smartproxy-probe";
    /** The probe for "any name": routes without domains and the pattern {@code *}. */
    private static final String ANY_NAME = PROBE + ".invalid";

    private RouteRules() {
    }

    /**
     * Every check a route set must pass, for {@link SmartProxy.Builder#build()} and
     * {@link SmartProxy#updateRoutes} alike: at least one route, unique names, a certificate for
     * every route that terminates TLS, the rules of {@link #check}, and each route's policy
     * overrides over every kind under {@code policy}.
     *
     * @param hasCertificate whether the proxy has any certificate (or a default one) now
     * @return the table of {@code routes}
     * @throws IllegalArgumentException naming the route and the fix, if a check fails
     */
    static RouteTable validate(List<Route> routeList, boolean hasCertificate, ConnectionPolicy policy) {
        RouteTable table = validateTable(routeList, hasCertificate);
        checkPolicies(table, policy);
        return table;
    }

    /** The checks of {@link #validate} that need no policy, in its order (build() runs them before it builds the policy). */
    static RouteTable validateTable(List<Route> routeList, boolean hasCertificate) {
        RouteTable table = RouteTable.of(routeList);
        for (Route r : table.routes()) {
            if (!hasCertificate && r.action() instanceof ForwardAction f && f.tlsMode().isPresent()
                    && f.tlsMode().get() != TlsMode.PASSTHROUGH) {
                throw new IllegalArgumentException("route '" + r.name() + "' tls: " + f.tlsMode().get()
                        + " needs a certificate (expected: certificate(...) or defaultCertificate(...) on the builder)");
            }
        }
        check(table, hasCertificate);
        return table;
    }

    /** Each route's policy overrides over every kind under {@code policy}: the last check of {@link #validate}. */
    static void checkPolicies(RouteTable table, ConnectionPolicy policy) {
        for (Route r : table.routes()) {
            // The policy checked itself and its kind overrides; each route's overrides, over
            // every kind, go through the same validator, by the computation connections use.
            for (RoutePolicy kindLayer : List.of(policy.passthroughOverrides(), policy.terminatedOverrides(),
                    policy.plainOverrides())) {
                try {
                    policy.withOverrides(kindLayer, r.policy());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("route '" + r.name() + "' " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * Checks the table.
     *
     * @param hasCertificate whether the proxy has any certificate (or a default one) to terminate TLS with
     * @throws IllegalArgumentException naming the route and the fix, if a rule fails
     */
    static void check(RouteTable table, boolean hasCertificate) {
        List<Route> routes = table.routes();
        Map<Integer, List<Route>> classes = portClasses(table);
        for (Map.Entry<Integer, List<Route>> port : classes.entrySet()) {
            List<Route> on = port.getValue();
            for (int i = 0; i < on.size(); i++) {
                Route x = on.get(i);
                if (!isRedirectOrConditionalBlock(x)) {
                    continue;
                }
                if (x.match().needsHttpRequest()) {
                    for (Route y : on.subList(i + 1, on.size())) {
                        if (isPassthrough(y) && clientsMayMeet(x, y)) {
                            String name = firstWonName(on, x, y);
                            if (name != null) {
                                throw new IllegalArgumentException("route '" + x.name() + "': paths/headers need "
                                        + "requests the proxy reads, but this route would take the TLS connections for "
                                        + describeName(name) + " on port " + port.getKey() + " from passthrough route '"
                                        + y.name() + "', which relays them unread "
                                        + "(expected: tls(TERMINATE) on '" + y.name() + "' so that its requests are "
                                        + "routed one by one, or '" + x.name() + "' without paths/headers)");
                            }
                        }
                    }
                }
            }
        }
        if (hasCertificate) {
            return;
        }
        for (Route x : routes) {
            if (!isRedirectOrConditionalBlock(x)) {
                continue;
            }
            boolean allTlsPorts = x.match().ports().stream().allMatch(p -> routes.stream()
                    .anyMatch(y -> isPassthrough(y) && y.match().ports().contains(p)));
            if (!allTlsPorts) {
                continue; // a port without passthrough routes: the route can be meant for plain HTTP there
            }
            for (Map.Entry<Integer, List<Route>> port : classes.entrySet()) {
                List<Route> on = port.getValue();
                int p = port.getKey();
                if (!on.contains(x)) {
                    continue;
                }
                String name = firstWonName(on, x, null);
                if (name != null) {
                    Route y = on.stream().filter(RouteRules::isPassthrough).findFirst().orElseThrow();
                    throw new IllegalArgumentException("route '" + x.name() + "': " + describe(x) + " on port " + p
                            + ", where passthrough route '" + y.name() + "' expects TLS, takes TLS connections for "
                            + describeName(name) + ", but the proxy has no certificate to terminate them with "
                            + "(expected: certificate(...) or defaultCertificate(...) on the builder, or the route "
                            + "on a port without passthrough routes)");
                }
            }
        }
    }

    /**
     * One representative port per distinct set of routes, mapped to the routes on it in
     * evaluation order: the rules depend on a port only through the routes it carries.
     */
    private static Map<Integer, List<Route>> portClasses(RouteTable table) {
        Map<List<Route>, Integer> seen = new LinkedHashMap<>();
        table.ports().stream().forEach(p -> {
            List<Route> on = new ArrayList<>();
            for (Route r : table.routes()) {
                if (r.match().ports().contains(p)) {
                    on.add(r);
                }
            }
            seen.putIfAbsent(on, p);
        });
        Map<Integer, List<Route>> classes = new LinkedHashMap<>();
        seen.forEach((on, p) -> classes.put(p, on));
        return classes;
    }

    private static boolean isRedirectOrConditionalBlock(Route r) {
        return r.action() instanceof RedirectAction
                || (r.action() instanceof BlockAction && r.match().needsHttpRequest());
    }

    private static boolean isPassthrough(Route r) {
        return r.action() instanceof ForwardAction f && f.tlsMode().orElse(null) == TlsMode.PASSTHROUGH;
    }

    /** Whether some client could meet both routes: conservative, true unless both name different clients. */
    private static boolean clientsMayMeet(Route x, Route y) {
        return x.match().clientIps().isEmpty() || y.match().clientIps().isEmpty()
                || x.match().clientIps().equals(y.match().clientIps());
    }

    /**
     * A probe name (null: no SNI) that {@code x} wins among {@code on} (the routes of one port in
     * evaluation order) and that {@code y} would take too (any name when {@code y} is null); null
     * if there is none.
     */
    private static String firstWonName(List<Route> on, Route x, Route y) {
        List<String> probes = new ArrayList<>(probes(x));
        if (y != null) {
            probes.addAll(probes(y));
        }
        for (String name : probes) {
            if (takes(x, name) && (y == null || takes(y, name)) && wins(on, x, name)) {
                return name;
            }
        }
        return null;
    }

    /** Whether {@code x} is the first route among {@code on} to take {@code name} for every client it names. */
    private static boolean wins(List<Route> on, Route x, String name) {
        for (Route r : on) {
            if (r == x) {
                return true;
            }
            if (r.match().clientIps().isEmpty() && takes(r, name)) {
                return false;
            }
        }
        return false;
    }

    /** Whether the route's domain condition takes {@code name} (null: a connection without SNI). */
    private static boolean takes(Route r, String name) {
        List<DomainPattern> domains = r.match().domains();
        if (domains.isEmpty()) {
            return true;
        }
        return name != null && domains.stream().anyMatch(d -> d.matches(name));
    }

    /** One name per domain pattern of the route; a route without domains also takes connections without SNI. */
    private static List<String> probes(Route r) {
        List<String> names = new ArrayList<>();
        if (r.match().domains().isEmpty()) {
            names.add(ANY_NAME);
            names.add(null);
        }
        for (DomainPattern d : r.match().domains()) {
            String p = d.toString();
            names.add(d.isCatchAll() ? ANY_NAME : p.startsWith("*.") ? PROBE + p.substring(1) : p);
        }
        return names;
    }

    private static String describeName(String name) {
        if (name == null) {
            return "clients without SNI";
        }
        if (name.equals(ANY_NAME)) {
            return "any name";
        }
        return name.startsWith(PROBE + ".") ? "*" + name.substring(PROBE.length()) : name;
    }

    private static String describe(Route r) {
        return r.action() instanceof RedirectAction ? "a redirect" : "a block with paths/headers";
    }
}
