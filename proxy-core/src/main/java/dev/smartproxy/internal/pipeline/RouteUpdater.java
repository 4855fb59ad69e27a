package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies live route updates to a running proxy, one at a time (the caller serialises them; the
 * facade's lock does): binds the listeners of new ports with accepting off, puts the new
 * {@link RouteSnapshot} in force in one volatile write, lets the new listeners accept (so their
 * first connection already sees the new table), closes the listeners of ports no route uses any
 * more, then judges the open connections ({@link RouteRetirements}), logs one INFO line and
 * tells the listeners. Ports used before and after keep their listener. An update equal to the
 * table and listen addresses in force is reported and does nothing else.
 */
final class RouteUpdater {
    private static final Logger log = LoggerFactory.getLogger(RouteUpdater.class);

    private final ProxyContext px;
    private final ProxyServer server;
    /** Route port to the address its listener was asked to bind. */
    private Map<Integer, InetSocketAddress> binds;

    RouteUpdater(ProxyContext px, ProxyServer server, Map<Integer, InetSocketAddress> binds) {
        this.px = px;
        this.server = server;
        this.binds = Map.copyOf(binds);
    }

    /** The context whose snapshot this updater swaps. */
    ProxyContext context() {
        return px;
    }

    /** Route port to the address its listener was asked to bind, now. */
    Map<Integer, InetSocketAddress> binds() {
        return binds;
    }

    /**
     * Applies a validated table; {@code newBinds} maps every port of {@code table} to its listen
     * address (ports kept: the address they have). See {@code ProxyEngine.updateRoutes}.
     *
     * @throws java.io.UncheckedIOException if a new port cannot be bound; nothing changed then
     */
    RouteUpdate apply(RouteTable table, Map<Integer, InetSocketAddress> newBinds) {
        RouteSnapshot old = px.routing();
        RouteTable oldTable = old.table();
        RouteUpdate update;
        if (oldTable.routes().equals(table.routes()) && binds.equals(newBinds)) {
            update = new RouteUpdate(List.of(), List.of(), List.of(), names(oldTable.routes()), List.of(), List.of(),
                    0, 0, 0, true);
        } else {
            Map<Integer, InetSocketAddress> opening = new LinkedHashMap<>();
            newBinds.forEach((port, address) -> {
                if (!binds.containsKey(port)) {
                    opening.put(port, address);
                }
            });
            List<Integer> closing = new ArrayList<>();
            for (int port : binds.keySet()) {
                if (!newBinds.containsKey(port)) {
                    closing.add(port);
                }
            }
            server.bindPaused(opening); // throws with nothing changed
            RouteSnapshot next = old.next(table);
            px.routing(next); // the one write: from here every new connection sees the new table
            binds = Map.copyOf(newBinds);
            server.startAccepting(opening.keySet());
            server.unbind(closing);
            RouteRetirements.Counts counts = RouteRetirements.sweep(px, old, next);
            update = diff(old, next, opening.keySet(), closing, counts);
            forgetRemoved(next);
        }
        log.info("routes updated: {}", update.summary());
        px.registry().routesUpdated(update);
        return update;
    }

    /**
     * Bounds what removed routes leave behind: their metric counters (unless an open connection
     * still uses them) and the backend TLS contexts no route of the new table uses.
     */
    private void forgetRemoved(RouteSnapshot next) {
        java.util.Set<String> hosts = new java.util.HashSet<>();
        java.util.Set<dev.smartproxy.config.BackendTls> tls = new java.util.HashSet<>();
        for (Route r : next.table().routes()) {
            if (r.action() instanceof dev.smartproxy.route.ForwardAction f) {
                f.targets().forEach(t -> hosts.add(t.host()));
                if (f.backendTls() != null) {
                    tls.add(f.backendTls());
                }
            }
        }
        px.registry().telemetry().routesChanged(next.byName().keySet(), hosts);
        px.retainBackendContexts(tls);
    }

    private static RouteUpdate diff(RouteSnapshot old, RouteSnapshot next, Collection<Integer> opened,
                                    Collection<Integer> closed, RouteRetirements.Counts counts) {
        RouteTable oldTable = old.table();
        RouteTable table = next.table();
        Map<String, Route> before = old.byName();
        Map<String, Route> after = next.byName();
        List<String> added = new ArrayList<>();
        List<String> changed = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();
        for (Route r : table.routes()) {
            Route was = before.get(r.name());
            (was == null ? added : was.sameDefinition(r) ? unchanged : changed).add(r.name());
        }
        List<String> removed = new ArrayList<>();
        for (Route r : oldTable.routes()) {
            if (!after.containsKey(r.name())) {
                removed.add(r.name());
            }
        }
        return new RouteUpdate(added, removed, changed, unchanged, sorted(opened), sorted(closed), counts.kept(),
                counts.draining(), counts.closed(), false);
    }

    private static List<Integer> sorted(Collection<Integer> ports) {
        List<Integer> out = new ArrayList<>(ports);
        out.sort(null);
        return out;
    }

    private static List<String> names(List<Route> routes) {
        List<String> out = new ArrayList<>(routes.size());
        routes.forEach(r -> out.add(r.name()));
        return out;
    }

}
