package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.internal.util.Checks;

import java.time.Duration;

/**
 * The request-body watch of one client connection, as arithmetic on event-loop ticker nanos
 * (no clock, no channel): {@link HttpSettings#requestBodyTimeout()} (no body byte for that long)
 * and {@link HttpSettings#minRequestBodyRate()} (fewer bytes per second than that, measured from
 * the body's start, or from the proxy's last resumption of reading, once
 * {@link HttpSettings#minRequestBodyRateGrace()} has passed). Time the proxy itself holds the
 * client back is never the client's: {@link #restart} starts both measures again.
 *
 * <p>One per connection, reused for every request; the owner schedules {@link #check} lazily, as
 * {@code IdleStateHandler} does.
 * <pre>{@code
 * long delay = body.start(now);                       // MAX_VALUE: nothing to watch
 * body.moved(now);                                    // on each body chunk
 * long next = body.check(now, bytesSoFar);            // < 0: expired, see failure()
 * }</pre>
 */
final class BodyProgress {
    /** What {@link #check} returns when a limit is broken. */
    static final long EXPIRED = -1;

    private final long timeoutNanos;
    private final long minRate;
    private final long graceNanos;
    /** When the body last moved, or the proxy last resumed reading it. */
    private long lastNanos;
    /** Where the rate window starts, and the body bytes read by then. */
    private long sinceNanos;
    private long sinceBytes;
    private String failure;

    BodyProgress(HttpSettings settings) {
        this.timeoutNanos = settings.requestBodyTimeout().toNanos();
        this.minRate = settings.minRequestBodyRate();
        this.graceNanos = settings.minRequestBodyRateGrace().toNanos();
    }

    /** A body starts at {@code now}; returns the delay of the first check, MAX_VALUE if none is needed. */
    long start(long now) {
        restart(now, 0);
        return next(0, 0);
    }

    /** Body bytes arrived at {@code now}. */
    void moved(long now) {
        lastNanos = now;
    }

    /** The proxy resumes (or is) holding the client back at {@code now}, {@code bytes} into the body. */
    void restart(long now, long bytes) {
        lastNanos = now;
        sinceNanos = now;
        sinceBytes = bytes;
    }

    /**
     * Checks the limits at {@code now}, {@code bytes} into the body.
     *
     * @return the delay of the next check, or {@link #EXPIRED} (then {@link #failure()} says why)
     */
    long check(long now, long bytes) {
        long idle = now - lastNanos;
        if (timeoutNanos > 0 && idle >= timeoutNanos) {
            failure = "no request body bytes within " + Checks.format(Duration.ofNanos(timeoutNanos));
            return EXPIRED;
        }
        long windowAge = now - sinceNanos;
        if (minRate > 0 && windowAge >= graceNanos) {
            long got = bytes - sinceBytes;
            if (got * 1e9 < (double) minRate * windowAge) { // got / seconds < rate, in doubles: no overflow
                failure = "request body too slow: " + got + " bytes in " + Checks.format(Duration.ofNanos(windowAge))
                        + " (minimum " + minRate + " B/s)";
                return EXPIRED;
            }
        }
        return next(idle, windowAge);
    }

    /** Why the last {@link #check} expired. */
    String failure() {
        return failure;
    }

    /** Nanos until the next look, given the time since the last byte and since the window started. */
    private long next(long idle, long windowAge) {
        long next = Long.MAX_VALUE;
        if (timeoutNanos > 0) {
            next = timeoutNanos - idle;
        }
        if (minRate > 0) {
            // before the grace: at its end; after it, every grace/5 (at least 100 ms), while the body lasts
            long rateCheck = windowAge < graceNanos ? graceNanos - windowAge : Math.max(graceNanos / 5, 100_000_000L);
            next = Math.min(next, rateCheck);
        }
        return next;
    }
}
