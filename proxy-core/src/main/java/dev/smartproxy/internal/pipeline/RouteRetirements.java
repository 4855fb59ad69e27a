package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRetirement;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a live route update does to open connections: each connection is judged by the route
 * object it was routed by ({@link ManagedConnection#route()}) against the table before and the
 * table after the update.
 * <ul>
 *   <li>The new table has a route of that name with the same definition (the retirement aside):
 *       the connection is untouched; its route object becomes the new table's (so a later update
 *       judges it by the latest retirement), and a drain a former update armed is cancelled: a
 *       drain ends when a later update restores the route to the definition the connection was
 *       routed by.</li>
 *   <li>This update did not change the route of that name (same definition before and after, or
 *       absent from both): untouched and not counted, whatever a former update decided (a drain
 *       goes on, a kept connection is not counted as kept again).</li>
 *   <li>Otherwise a REMOVED route (no route of that name now) retires it by the removed route's
 *       retirement (as the table before had it), reason {@code ROUTE_REMOVED}; a CHANGED route
 *       (same name, another definition) by the new definition's, reason {@code ROUTE_CHANGED}.</li>
 * </ul>
 * Closing, draining and cancelling run on the connection's event loop.
 *
 * <p>A connection routed by a snapshot that is no longer in force when it records its route (it
 * was accepted, or its HTTP request matched, just before an update, and the update's sweep may
 * have missed it) is judged the same way at once ({@link #recordRoute}), so no connection escapes
 * an update by racing it. Judging twice is harmless: a drain keeps its first deadline.
 */
final class RouteRetirements {
    private static final Logger log = LoggerFactory.getLogger(RouteRetirements.class);

    /**
     * The outcome for one route object: a retirement with its reason; or none, with the route now
     * in force ({@code current}) when it has the same definition.
     */
    record Verdict(RouteRetirement retirement, CloseReason reason, Route current) {
    }

    /** Connections of removed or changed routes, by what their retirement did. */
    record Counts(int kept, int draining, int closed) {
    }

    /** This update did not change the connection's route. */
    private static final Verdict UNTOUCHED = new Verdict(null, null, null);

    private RouteRetirements() {
    }

    /**
     * How the connections of {@code routedBy} fare when the table {@code before} gives way to
     * {@code after} (both by name).
     */
    static Verdict verdict(Route routedBy, Map<String, Route> before, Map<String, Route> after) {
        Route now = after.get(routedBy.name());
        if (now != null && now.sameDefinition(routedBy)) {
            return new Verdict(null, null, now);
        }
        Route was = before.get(routedBy.name());
        if (was == null ? now == null : now != null && was.sameDefinition(now)) {
            return UNTOUCHED;
        }
        if (now == null) {
            return new Verdict((was != null ? was : routedBy).retirement(), CloseReason.ROUTE_REMOVED, null);
        }
        return new Verdict(now.retirement(), CloseReason.ROUTE_CHANGED, null);
    }

    /**
     * Judges every open connection as {@code old} gives way to {@code next}, the snapshot just put
     * in force, and starts the retirement of those whose route it removed or changed. Each
     * distinct route object is judged once.
     */
    static Counts sweep(ProxyContext px, RouteSnapshot old, RouteSnapshot next) {
        Map<String, Route> before = old.byName();
        Map<String, Route> after = next.byName();
        Map<Route, Verdict> verdicts = new IdentityHashMap<>();
        int[] counts = new int[3];
        px.registry().forEachOpen(c -> {
            Route r = c.route();
            if (r == null) {
                return;
            }
            Verdict v = verdicts.computeIfAbsent(r, k -> verdict(k, before, after));
            int outcome = apply(c, r, v);
            if (outcome >= 0) {
                counts[outcome]++;
            }
        });
        return new Counts(counts[0], counts[1], counts[2]);
    }

    /**
     * Records the route a connection (or its latest HTTP request) was routed by, under the
     * snapshot {@code used}; if another snapshot is in force by now, judges it at once. Event
     * loop only.
     */
    static void recordRoute(ProxyContext px, ManagedConnection conn, Route route, RouteSnapshot used) {
        conn.route(route);
        RouteSnapshot now = px.routing();
        if (route != null && now != used) {
            apply(conn, route, verdict(route, used.byName(), now.byName()));
        }
    }

    /**
     * Acts on a verdict for {@code c}, routed by {@code r}; returns 0 kept, 1 draining, 2 closed, or
     * -1 when the update did not touch it.
     */
    private static int apply(ManagedConnection c, Route r, Verdict v) {
        if (v == UNTOUCHED) {
            return -1;
        }
        if (v.current() != null) {
            if (v.current() != r) {
                c.routeRenewed(r, v.current());
            }
            List<Channel> legs = c.legs();
            if (c.wasDrainAsked() && !legs.isEmpty()) {
                legs.get(0).eventLoop().execute(() -> {
                    if (c.cancelDrain()) {
                        log.debug("{}drain cancelled: an update restored route '{}'", c.log(), r.name());
                    }
                });
            }
            return -1;
        }
        RouteRetirement ret = v.retirement();
        if (ret.mode() == RouteRetirement.Mode.KEEP) {
            return 0;
        }
        long after = ret.mode() == RouteRetirement.Mode.DRAIN ? ret.deadline().toNanos() : 0;
        List<Channel> legs = c.legs();
        if (legs.isEmpty()) {
            return ret.mode() == RouteRetirement.Mode.DRAIN ? 1 : 2;
        }
        if (after > 0) {
            c.drainAsked();
        }
        // Always a task of its own, even on the loop: the caller may be installing the branch
        // that a close must find in place.
        legs.get(0).eventLoop().execute(() -> c.retire(v.reason(), after));
        return ret.mode() == RouteRetirement.Mode.DRAIN ? 1 : 2;
    }
}
