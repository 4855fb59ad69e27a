package dev.smartproxy.metrics;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A distribution of durations since start, in fixed log-scale buckets: upper bounds
 * {@link #BOUNDS} (1 ms, 2 ms, 5 ms, 10 ms ... 30 s, 60 s), then one overflow bucket for anything
 * longer. {@code bucketCounts[i]} counts the durations {@code d} with
 * {@code bounds[i-1] < d <= bounds[i]}; {@code bucketCounts[bounds.size()]} is the overflow.
 * Counts are not cumulative across buckets. Immutable (the array is copied in and out).
 *
 * @param count        durations recorded
 * @param total        their sum
 * @param max          the longest ({@link Duration#ZERO} when none)
 * @param bucketBounds the upper bound of each bucket but the overflow, ascending
 * @param bucketCounts one count per bound, plus the overflow: {@code bucketBounds.size() + 1} entries
 */
public record LatencyHistogram(long count, Duration total, Duration max, List<Duration> bucketBounds,
                               long[] bucketCounts) {
    /** The fixed bucket upper bounds, 1 ms to 60 s in 1-2-5 steps, used by every histogram the proxy makes. */
    public static final List<Duration> BOUNDS = List.of(
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(20), Duration.ofMillis(50),
            Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60));

    private static final long[] BOUND_NANOS = BOUNDS.stream().mapToLong(Duration::toNanos).toArray();

    /** An empty histogram over {@link #BOUNDS}. */
    public static final LatencyHistogram EMPTY = new LatencyHistogram(0, Duration.ZERO, Duration.ZERO, BOUNDS,
            new long[BOUNDS.size() + 1]);

    /** Copies the bounds and counts and checks their shape. */
    public LatencyHistogram {
        bucketBounds = List.copyOf(bucketBounds);
        bucketCounts = bucketCounts.clone();
        if (bucketCounts.length != bucketBounds.size() + 1) {
            throw new IllegalArgumentException("bucketCounts: " + bucketCounts.length + " entries (expected: "
                    + (bucketBounds.size() + 1) + ", one per bound plus the overflow)");
        }
        if (count < 0) {
            throw new IllegalArgumentException("count: " + count + " (expected: >= 0)");
        }
    }

    /** A copy of the counts per bucket (the overflow last). */
    @Override
    public long[] bucketCounts() {
        return bucketCounts.clone();
    }

    /**
     * The index of the {@link #BOUNDS} bucket a duration of {@code nanos} falls in
     * ({@code BOUNDS.size()} for the overflow). For the proxy's recorders.
     */
    public static int bucketOf(long nanos) {
        int i = Arrays.binarySearch(BOUND_NANOS, nanos);
        return i >= 0 ? i : -i - 1;
    }

    /** The mean duration; {@link Duration#ZERO} when nothing was recorded. */
    public Duration mean() {
        return count == 0 ? Duration.ZERO : total.dividedBy(count);
    }

    /**
     * An upper estimate of the {@code q}-quantile: the upper bound of the bucket that holds it,
     * never more than {@link #max()} (so the overflow bucket reports the maximum).
     * {@link Duration#ZERO} when nothing was recorded.
     *
     * @param q in 0..1, e.g. 0.99 for the 99th percentile
     * @throws IllegalArgumentException if {@code q} is outside 0..1
     */
    public Duration percentile(double q) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("q: " + q + " (expected: 0..1)");
        }
        if (count == 0) {
            return Duration.ZERO;
        }
        long rank = Math.max(1, (long) Math.ceil(q * count));
        long seen = 0;
        for (int i = 0; i < bucketCounts.length; i++) {
            seen += bucketCounts[i];
            if (seen >= rank) {
                if (i == bucketBounds.size()) {
                    return max;
                }
                Duration bound = bucketBounds.get(i);
                return bound.compareTo(max) > 0 ? max : bound;
            }
        }
        return max;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LatencyHistogram h && h.count == count && h.total.equals(total) && h.max.equals(max)
                && h.bucketBounds.equals(bucketBounds) && Arrays.equals(h.bucketCounts, bucketCounts);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(count) * 31 + Arrays.hashCode(bucketCounts);
    }

    @Override
    public String toString() {
        return "LatencyHistogram[count=" + count + ", mean=" + mean() + ", p50=" + percentile(0.5) + ", p99="
                + percentile(0.99) + ", max=" + max + "]";
    }
}
