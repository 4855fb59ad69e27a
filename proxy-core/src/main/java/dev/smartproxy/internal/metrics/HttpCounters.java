package dev.smartproxy.internal.metrics;

import java.util.concurrent.atomic.LongAdder;

/** The HTTP exchanges of one route, by status class, with their latency. */
public final class HttpCounters {
    final String route;
    final LongAdder[] responses = new LongAdder[5];
    final Histogram latency = new Histogram();

    HttpCounters(String route) {
        this.route = route;
        for (int i = 0; i < responses.length; i++) {
            responses[i] = new LongAdder();
        }
    }

    /** An exchange answered with {@code status} (100..599) ended after {@code nanos}. */
    public void record(int status, long nanos) {
        if (status >= 100 && status <= 599) {
            responses[status / 100 - 1].increment();
            latency.record(nanos);
        }
    }

    /** The route's name ({@code ""} for the proxy's own answers). */
    public String route() {
        return route;
    }
}
