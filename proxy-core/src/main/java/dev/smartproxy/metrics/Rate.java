package dev.smartproxy.metrics;

/**
 * A monotonic total and its rate per second over rolling windows. The rates come from a sampler
 * that reads the totals once a second, off the I/O threads; a window longer than the time the
 * proxy has been running is averaged over the time it has run (0 before the first sample).
 * {@code new Rate(0, 0, 0, 0)} is {@link #ZERO}.
 *
 * @param total         the total since start (bytes, for the byte rates)
 * @param lastSecond    per second over the last completed second
 * @param last10Seconds per second, averaged over the last 10 seconds
 * @param lastMinute    per second, averaged over the last 60 seconds
 */
public record Rate(long total, double lastSecond, double last10Seconds, double lastMinute) {
    /** Nothing counted. */
    public static final Rate ZERO = new Rate(0, 0, 0, 0);

    /** Checks that nothing is negative. */
    public Rate {
        if (total < 0 || lastSecond < 0 || last10Seconds < 0 || lastMinute < 0) {
            throw new IllegalArgumentException("rate: " + total + "/" + lastSecond + "/" + last10Seconds + "/"
                    + lastMinute + " (expected: no negative value)");
        }
    }
}
