package dev.smartproxy.internal.metrics;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The bytes of the connections open at one moment, proxy-wide and by route: what the sampler and
 * a snapshot add to the totals of the connections already closed. Filled by one thread.
 */
public final class OpenTotals {
    long bytesIn;
    long bytesOut;
    final Map<RouteCounters, long[]> byRoute = new IdentityHashMap<>();

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
