package dev.smartproxy.internal.metrics;

import dev.smartproxy.metrics.LatencyHistogram;

import java.time.Duration;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * A concurrent, increment-only histogram over the fixed buckets of {@link LatencyHistogram#BOUNDS}.
 * {@link #record} costs a binary search over 15 bounds and four uncontended atomic adds; no allocation.
 */
public final class Histogram {
    private final LongAdder count = new LongAdder();
    private final LongAdder sumNanos = new LongAdder();
    private final LongAccumulator maxNanos = new LongAccumulator(Math::max, 0);
    private final LongAdder[] buckets = new LongAdder[LatencyHistogram.BOUNDS.size() + 1];

    public Histogram() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Records one duration of {@code nanos} (negative counts as 0). */
    public void record(long nanos) {
        long n = Math.max(0, nanos);
        count.increment();
        sumNanos.add(n);
        buckets[LatencyHistogram.bucketOf(n)].increment();
        maxNanos.accumulate(n);
    }

    /** An immutable copy. Buckets are read one by one: the count is their sum, so the copy is consistent in itself. */
    public LatencyHistogram snapshot() {
        long[] counts = new long[buckets.length];
        long n = 0;
        for (int i = 0; i < counts.length; i++) {
            counts[i] = buckets[i].sum();
            n += counts[i];
        }
        return new LatencyHistogram(n, Duration.ofNanos(sumNanos.sum()), Duration.ofNanos(maxNanos.get()),
                LatencyHistogram.BOUNDS, counts);
    }
}
