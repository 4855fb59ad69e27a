package dev.smartproxy.internal.metrics;

import java.util.concurrent.atomic.LongAdder;

/**
 * The counters of one route, looked up once when a connection is routed and kept on its record.
 * Bytes of open connections are read from their records; a closing connection adds its totals
 * here ({@link #closed}).
 */
public final class RouteCounters {
    final String name;
    final LongAdder routed = new LongAdder();
    final LongAdder closed = new LongAdder();
    final LongAdder closedBytesIn = new LongAdder();
    final LongAdder closedBytesOut = new LongAdder();
    final RateWindow bytesIn = new RateWindow();
    final RateWindow bytesOut = new RateWindow();

    RouteCounters(String name) {
        this.name = name;
    }

    /** A connection was routed here. */
    public void routed() {
        routed.increment();
    }

    /** A connection routed here closed, having moved {@code in} bytes from and {@code out} bytes to its client. */
    public void closed(long in, long out) {
        closed.increment();
        closedBytesIn.add(in);
        closedBytesOut.add(out);
    }

    /** The route's name. */
    public String name() {
        return name;
    }
}
