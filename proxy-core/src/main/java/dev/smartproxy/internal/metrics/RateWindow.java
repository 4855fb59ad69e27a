package dev.smartproxy.internal.metrics;

import dev.smartproxy.metrics.Rate;

/**
 * The last 61 samples of a monotonic total, taken once a second by the sampler, giving per-second
 * rates over 1, 10 and 60 seconds. A window longer than the samples taken so far is averaged over
 * the samples there are; the window starts from a zero total when it is made (with the proxy, or
 * with the first connection of a route or backend). A total read while a connection moves from "open" to "closed" may miss
 * it for that one reading, never count it twice ({@link OpenTotals}); a step backwards is read as 0, never a negative rate.
 * Synchronized: the sampler writes, snapshots read; neither is on the I/O path.
 */
public final class RateWindow {
    static final int SLOTS = 61;

    private final long[] samples = new long[SLOTS];
    /** Starts from a zero sample: what moved before the first tick counts in the first second's rate. */
    private int next = 1;
    private int count = 1;

    /** Adds the total read at this tick. */
    public synchronized void add(long total) {
        samples[next] = total;
        next = (next + 1) % SLOTS;
        if (count < SLOTS) {
            count++;
        }
    }

    /** The rates of the samples so far, with {@code total} (read now) as the total. */
    public synchronized Rate rate(long total) {
        if (count < 2) {
            return new Rate(Math.max(0, total), 0, 0, 0);
        }
        return new Rate(Math.max(0, total), per(1), per(10), per(60));
    }

    private double per(int seconds) {
        int span = Math.min(seconds, count - 1);
        long latest = samples[(next - 1 + SLOTS) % SLOTS];
        long old = samples[(next - 1 - span + 2 * SLOTS) % SLOTS];
        return Math.max(0, latest - old) / (double) span;
    }
}
