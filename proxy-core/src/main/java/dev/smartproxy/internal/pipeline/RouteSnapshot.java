package dev.smartproxy.internal.pipeline;

import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.Target;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One route table in force and what is derived from it: the unit a live route update swaps
 * ({@link ProxyContext#routing()}, one volatile write). Immutable but for the round-robin
 * counters. A connection reads the snapshot once, when it is accepted, and decides everything
 * about its routing from that one snapshot (classification, the route, the target); an HTTP
 * connection reads the current one again for each new request, and uses it for that request.
 *
 * <p><b>Round-robin state</b> is per route name and survives updates for every name the new table
 * keeps (unchanged or changed: the counter goes on, modulo the new number of targets); a removed
 * name's counter is gone with its snapshot, and a name added again later starts at its first
 * target.
 */
public final class RouteSnapshot {
    private final RouteTable table;
    private final Map<String, AtomicInteger> roundRobin;
    /** The routes by name, built once per snapshot: what live updates judge connections against. */
    private final Map<String, Route> byName;

    private RouteSnapshot(RouteTable table, Map<String, AtomicInteger> roundRobin) {
        this.table = table;
        this.roundRobin = roundRobin;
        Map<String, Route> names = new java.util.HashMap<>(table.routes().size() * 2);
        for (Route r : table.routes()) {
            names.put(r.name(), r);
        }
        this.byName = java.util.Collections.unmodifiableMap(names);
    }

    /** The first snapshot of a proxy. */
    static RouteSnapshot of(RouteTable table) {
        return next(table, Map.of());
    }

    /** The snapshot that follows this one with {@code newTable}: the counters of the names kept carry over. */
    RouteSnapshot next(RouteTable newTable) {
        return next(newTable, roundRobin);
    }

    private static RouteSnapshot next(RouteTable table, Map<String, AtomicInteger> previous) {
        Map<String, AtomicInteger> counters = new ConcurrentHashMap<>();
        for (Route r : table.routes()) {
            if (r.action() instanceof ForwardAction f && f.targets().size() > 1) {
                AtomicInteger old = previous.get(r.name());
                counters.put(r.name(), old != null ? old : new AtomicInteger());
            }
        }
        return new RouteSnapshot(table, counters);
    }

    /** The route table. */
    public RouteTable table() {
        return table;
    }

    /** The table's routes by name (unmodifiable, built once). */
    Map<String, Route> byName() {
        return byName;
    }

    /** The next target of a forwarding route of this snapshot, round-robin over its targets. */
    Target nextTarget(Route route, ForwardAction action) {
        List<Target> targets = action.targets();
        if (targets.size() == 1) {
            return targets.get(0);
        }
        int n = roundRobin.computeIfAbsent(route.name(), k -> new AtomicInteger()).getAndIncrement();
        return targets.get(Math.floorMod(n, targets.size()));
    }
}
