package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRetirement;
import dev.smartproxy.route.RouteTable;
import io.netty.channel.Channel;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a live route update does to open connections: each connection is judged by the route
 * object it was routed by ({@link ManagedConnection#route()}) against the new table. A route the
 * new table has with the same definition leaves the connection untouched; a REMOVED route (no
 * route of that name) retires it by the removed route's retirement, reason {@code ROUTE_REMOVED};
 * a CHANGED route (same name, another definition) by the new definition's, reason
 * {@code ROUTE_CHANGED}. Closing and draining run on the connection's event loop.
 *
 * <p>A connection routed by a snapshot that is no longer in force when it records its route (it
 * was accepted, or its HTTP request matched, just before an update, and the update's sweep may
 * have missed it) is judged the same way at once ({@link #recordRoute}), so no connection escapes
 * an update by racing it. Judging twice is harmless: a drain keeps its first deadline.
 */
final class RouteRetirements {
    /** The outcome for one route object. */
    record Verdict(RouteRetirement retirement, CloseReason reason) {
    }

    /** Connections of removed or changed routes, by what their retirement did. */
    record Counts(int kept, int draining, int closed) {
    }

    private RouteRetirements() {
    }

    /** How the connections of {@code routedBy} fare under {@code table}; null when untouched. */
    static Verdict verdict(Route routedBy, Map<String, Route> byName) {
        Route now = byName.get(routedBy.name());
        if (now == null) {
            return new Verdict(routedBy.retirement(), CloseReason.ROUTE_REMOVED);
        }
        if (now == routedBy || now.sameDefinition(routedBy)) {
            return null;
        }
        return new Verdict(now.retirement(), CloseReason.ROUTE_CHANGED);
    }

    /**
     * Judges every open connection against {@code table}, the one just put in force, and starts
     * the retirement of those whose route it removed or changed. Each distinct route object is
     * judged once.
     */
    static Counts sweep(ProxyContext px, RouteSnapshot snapshot) {
        Map<String, Route> byName = snapshot.byName();
        Map<Route, Verdict> verdicts = new IdentityHashMap<>();
        int[] counts = new int[3];
        px.registry().forEachOpen(c -> {
            Route r = c.route();
            if (r == null) {
                return;
            }
            Verdict v = verdicts.computeIfAbsent(r, k -> {
                Verdict verdict = verdict(k, byName);
                return verdict == null ? UNTOUCHED : verdict;
            });
            if (v != UNTOUCHED) {
                counts[apply(c, v)]++;
            }
        });
        return new Counts(counts[0], counts[1], counts[2]);
    }

    private static final Verdict UNTOUCHED = new Verdict(null, null);

    /**
     * Records the route a connection (or its latest HTTP request) was routed by, under the
     * snapshot {@code used}; if another snapshot is in force by now, judges it at once. Event
     * loop only.
     */
    static void recordRoute(ProxyContext px, ManagedConnection conn, Route route, RouteSnapshot used) {
        conn.route(route);
        RouteSnapshot now = px.routing();
        if (route != null && now != used) {
            Verdict v = verdict(route, now.byName());
            if (v != null) {
                apply(conn, v);
            }
        }
    }

    /** Starts the retirement on the connection's event loop; returns 0 kept, 1 draining, 2 closed. */
    private static int apply(ManagedConnection c, Verdict v) {
        RouteRetirement r = v.retirement();
        if (r.mode() == RouteRetirement.Mode.KEEP) {
            return 0;
        }
        long after = r.mode() == RouteRetirement.Mode.DRAIN ? r.deadline().toNanos() : 0;
        List<Channel> legs = c.legs();
        if (legs.isEmpty()) {
            return r.mode() == RouteRetirement.Mode.DRAIN ? 1 : 2;
        }
        // Always a task of its own, even on the loop: the caller may be installing the branch
        // that a close must find in place.
        legs.get(0).eventLoop().execute(() -> c.retire(v.reason(), after));
        return r.mode() == RouteRetirement.Mode.DRAIN ? 1 : 2;
    }
}
