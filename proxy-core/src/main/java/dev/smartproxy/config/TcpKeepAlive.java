package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;

/**
 * TCP keepalive on both legs of a connection (client and backend).
 *
 * <p>The kernel sends a probe after {@code idle} without traffic, then every {@code interval};
 * after {@code probes} unanswered probes the connection is reset and the proxy closes it. With
 * the defaults (idle 60 s, interval 10 s, 6 probes) a peer that vanished without a FIN or RST
 * is found within about 2 minutes. {@code userTimeout} ({@code TCP_USER_TIMEOUT}, Linux native
 * transport only) bounds how long sent data may stay unacknowledged; default 2 minutes.
 *
 * <p><b>Whole seconds.</b> {@code idle} and {@code interval} are kernel socket options counted
 * in whole seconds (1 s to 32767 s), so unlike the proxy's own timers (1 ms and up) they cannot be
 * scaled below a second in a test; a value with a fraction of a second is rejected, not rounded.
 * {@code userTimeout} is in milliseconds.
 *
 * <p>Probes are answered by the peer's kernel; they are not application bytes and do not reset
 * the proxy's own inactivity timer. Set both consistently.
 * <pre>{@code
 * TcpKeepAlive ka = TcpKeepAlive.builder().idle(Duration.ofSeconds(30)).probes(4).build();
 * }</pre>
 */
public final class TcpKeepAlive {
    private static final Duration MAX_SECONDS_OPTION = Duration.ofSeconds(32767);
    private static final TcpKeepAlive DEFAULTS = builder().build();
    private static final TcpKeepAlive DISABLED = builder().enabled(false).build();

    private final boolean enabled;
    private final Duration idle;
    private final Duration interval;
    private final int probes;
    private final Duration userTimeout;

    private TcpKeepAlive(Builder b) {
        this.enabled = b.enabled;
        this.idle = b.idle;
        this.interval = b.interval;
        this.probes = b.probes;
        this.userTimeout = b.userTimeout;
    }

    /** The defaults: on, idle 60 s, interval 10 s, 6 probes, user timeout 2 min. */
    public static TcpKeepAlive defaults() {
        return DEFAULTS;
    }

    /** TCP keepalive off (the user timeout stays at its default). */
    public static TcpKeepAlive disabled() {
        return DISABLED;
    }

    /** A new builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Whether {@code SO_KEEPALIVE} is set. Default true. */
    public boolean enabled() {
        return enabled;
    }

    /** Idle time before the first probe ({@code TCP_KEEPIDLE}). Default 60 s. */
    public Duration idle() {
        return idle;
    }

    /** Time between probes ({@code TCP_KEEPINTVL}). Default 10 s. */
    public Duration interval() {
        return interval;
    }

    /** Unanswered probes before the connection is dropped ({@code TCP_KEEPCNT}). Default 6. */
    public int probes() {
        return probes;
    }

    /** {@code TCP_USER_TIMEOUT}; {@link Duration#ZERO} leaves the kernel default. Default 2 min. */
    public Duration userTimeout() {
        return userTimeout;
    }

    /** The longest a dead, silent peer can go unnoticed: idle + interval x probes. */
    public Duration detectionTime() {
        return idle.plus(interval.multipliedBy(probes));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TcpKeepAlive t && enabled == t.enabled && idle.equals(t.idle)
                && interval.equals(t.interval) && probes == t.probes && userTimeout.equals(t.userTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(enabled, idle, interval, probes, userTimeout);
    }

    @Override
    public String toString() {
        return enabled ? "TcpKeepAlive[idle=" + Checks.format(idle) + " interval=" + Checks.format(interval)
                + " probes=" + probes + " userTimeout=" + Checks.format(userTimeout) + "]"
                : "TcpKeepAlive[off]";
    }

    /** Builds a {@link TcpKeepAlive}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private boolean enabled = true;
        private Duration idle = Duration.ofSeconds(60);
        private Duration interval = Duration.ofSeconds(10);
        private int probes = 6;
        private Duration userTimeout = Duration.ofMinutes(2);

        private Builder() {
        }

        /** Turns keepalive on or off. Default on. */
        public Builder enabled(boolean enabled) {
            this.enabled = enabled;
            return this;
        }

        /** Idle time before the first probe: whole seconds, 1 s to 32767 s. Default 60 s. */
        public Builder idle(Duration idle) {
            this.idle = wholeSeconds("tcpKeepAlive.idle", idle);
            return this;
        }

        /** Time between probes: whole seconds, 1 s to 32767 s. Default 10 s. */
        public Builder interval(Duration interval) {
            this.interval = wholeSeconds("tcpKeepAlive.interval", interval);
            return this;
        }

        /** Probes before giving up: 1..127. Default 6. */
        public Builder probes(int probes) {
            this.probes = (int) Checks.range("tcpKeepAlive.probes", probes, 1, 127);
            return this;
        }

        /** {@code TCP_USER_TIMEOUT}: ZERO for the kernel default, or 1 ms to 24 days. Default 2 min. */
        public Builder userTimeout(Duration userTimeout) {
            this.userTimeout = Checks.duration("tcpKeepAlive.userTimeout", userTimeout, Duration.ofMillis(1),
                    Duration.ofMillis(Integer.MAX_VALUE), true);
            return this;
        }

        private static Duration wholeSeconds(String name, Duration d) {
            Objects.requireNonNull(d, name);
            // One message for every violation, in the unit the kernel uses (not "1s to 9h6m7s").
            if (d.compareTo(Duration.ofSeconds(1)) < 0 || d.compareTo(MAX_SECONDS_OPTION) > 0 || d.toNanosPart() != 0) {
                throw new IllegalArgumentException(name + ": " + Checks.format(d)
                        + " (expected: whole seconds, 1s to 32767s; the kernel counts this option in seconds)");
            }
            return d;
        }

        /** Builds the settings. */
        public TcpKeepAlive build() {
            return new TcpKeepAlive(this);
        }
    }
}
