package dev.smartproxy.internal.metrics;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The byte totals at one moment, proxy-wide and by route: the totals of the connections closed,
 * read first ({@link MetricsRecorder#openTotals()}), then the bytes of the connections still open,
 * added by a walk that skips those already finished. A connection that closes during the walk is
 * so counted at most once: in the closed totals if its close was read before the walk (then the
 * walk finds it finished), in the walk if not, or, when its close lands between the two reads and
 * the walk sees it finished, not at all for that one reading. Never twice. Filled by one thread.
 */
public final class OpenTotals {
    long bytesIn;
    long bytesOut;
    final Map<RouteCounters, long[]> byRoute = new IdentityHashMap<>();
    /** The closed totals read before the walk. */
    final long closedIn;
    final long closedOut;
    /** Per route: the closed bytes in and out read before the walk; a route made since has none. */
    final Map<RouteCounters, long[]> closedByRoute;

    OpenTotals(long closedIn, long closedOut, Map<RouteCounters, long[]> closedByRoute) {
        this.closedIn = closedIn;
        this.closedOut = closedOut;
        this.closedByRoute = closedByRoute;
    }

    /** The closed bytes of {@code r} (index 0 in, 1 out) read before the walk; zeros if it was made since. */
    long[] closed(RouteCounters r) {
        long[] c = closedByRoute.get(r);
        return c == null ? NONE : c;
    }

    private static final long[] NONE = new long[2];

    /** Adds one open connection, routed to {@code route} (null: not routed yet). */
    public void add(RouteCounters route, long in, long out) {
        bytesIn += in;
        bytesOut += out;
        if (route != null) {
            long[] a = byRoute.computeIfAbsent(route, r -> new long[3]);
            a[0]++;
            a[1] += in;
            a[2] += out;
        }
    }
}
