package dev.smartproxy.internal.metrics;

import java.util.concurrent.atomic.LongAdder;

/** The counters of one backend ({@code host:port} as configured), looked up once per backend connection. */
public final class BackendCounters {
    final String name;
    final LongAdder connects = new LongAdder();
    final LongAdder failures = new LongAdder();
    final LongAdder closed = new LongAdder();
    final Histogram connectTime = new Histogram();

    BackendCounters(String name) {
        this.name = name;
    }

    /** A connection was established after {@code nanos}; it counts as open until {@link #closed()}. */
    public void connected(long nanos) {
        connects.increment();
        connectTime.record(nanos);
    }

    /** An established connection closed. */
    public void closed() {
        closed.increment();
    }

    /** A connect attempt failed. */
    public void failed() {
        failures.increment();
    }
}
