package dev.smartproxy.event;

import java.util.List;
import java.util.Objects;

/**
 * What one live route update ({@code SmartProxy.updateRoutes}) did, by route name: reported to
 * {@link ProxyEventListener#onRoutesUpdated} and returned to the caller.
 *
 * <ul>
 *   <li>{@code added}: names only in the new table; {@code removed}: names only in the old one;
 *       {@code changed}: names in both whose definitions differ (a route differing only in its
 *       retirement is not changed); {@code unchanged}: the rest. Lists in table order (removed
 *       in the old table's).</li>
 *   <li>{@code portsOpened}: route ports whose listeners this update bound; {@code portsClosed}:
 *       route ports no route uses any more, whose listeners it closed. Ascending.</li>
 *   <li>{@code connectionsKept}, {@code connectionsDraining}, {@code connectionsClosed}: of the
 *       connections open when the update was applied whose route it removed or changed, how
 *       many its retirement keeps, drains (closed after the deadline unless they end first) and
 *       closed at once. Connections of other routes are never touched and not counted.</li>
 *   <li>{@code noChange}: the update was identical to the table in force (equal routes in the
 *       same order, same listen addresses): nothing was replaced, no listener and no connection
 *       touched.</li>
 * </ul>
 * <pre>{@code
 * RouteUpdate u = proxy.updateRoutes(routes);
 * log.info("routes +{} -{} ~{}, ports opened {}", u.added(), u.removed(), u.changed(), u.portsOpened());
 * }</pre>
 */
public record RouteUpdate(List<String> added, List<String> removed, List<String> changed, List<String> unchanged,
                          List<Integer> portsOpened, List<Integer> portsClosed, int connectionsKept,
                          int connectionsDraining, int connectionsClosed, boolean noChange) {
    /** Copies the lists. */
    public RouteUpdate {
        added = List.copyOf(Objects.requireNonNull(added, "added"));
        removed = List.copyOf(Objects.requireNonNull(removed, "removed"));
        changed = List.copyOf(Objects.requireNonNull(changed, "changed"));
        unchanged = List.copyOf(Objects.requireNonNull(unchanged, "unchanged"));
        portsOpened = List.copyOf(Objects.requireNonNull(portsOpened, "portsOpened"));
        portsClosed = List.copyOf(Objects.requireNonNull(portsClosed, "portsClosed"));
    }

    /** A one-line summary in counts, as the proxy logs it (bounded however many routes and ports). */
    public String summary() {
        return (noChange ? "no change: " : "") + added.size() + " added, " + removed.size() + " removed, "
                + changed.size() + " changed, " + unchanged.size() + " unchanged; ports: " + portsOpened.size()
                + " opened, " + portsClosed.size() + " closed; connections of removed/changed routes: " + connectionsKept
                + " kept, " + connectionsDraining + " draining, " + connectionsClosed + " closed";
    }
}
