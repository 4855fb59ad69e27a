package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.util.Objects;
import java.util.Optional;

/**
 * Limits on who gets in, applied at accept before any byte is read (IP allow and block lists
 * are set on {@code SmartProxy.Builder} and per route, in {@code RouteSecurity}). Immutable.
 *
 * <ul>
 *   <li><b>maxConnectionsPerIp</b> (default 100; 0 = no limit): connections one client IP may
 *       have open at once. One more is closed at accept with {@code IP_CONNECTION_LIMIT}.</li>
 *   <li><b>connectionRateLimitPerMinute</b> (default 300; 0 = no limit): new connections one
 *       client IP may open per minute, as a <em>token bucket</em> of that many tokens, full at
 *       first, refilled continuously at that many per 60 s (one every 200 ms at 300): a client may
 *       burst the whole minute's allowance, then open one connection per refill interval. Each
 *       accepted connection takes one token; one with none left is closed at accept with
 *       {@code RATE_LIMITED}. Precision: the refill is computed from the monotonic clock in
 *       nanoseconds on every attempt (no timer, no window edges); a refused attempt takes no
 *       token.</li>
 *   <li><b>maxConnections</b> (default 0 = no limit): connections open proxy-wide. At the
 *       maximum the proxy stops accepting (the kernel's listen backlog holds the next clients,
 *       who wait) and resumes as soon as one closes; nobody is accepted and then closed for it.</li>
 *   <li><b>maxTrackedIps</b> (default 65,536; 1..16,777,216): client IPs whose per-IP state is
 *       kept while they have no connection open. An IP's state is freed as soon as it has no
 *       connection and a full bucket (it holds no information then); beyond this many idle IPs
 *       the least recently idle is forgotten (its bucket refills early), so an attacker cycling
 *       source addresses cannot grow the table. IPs with open connections are always tracked;
 *       there are at most as many as open connections.</li>
 *   <li><b>limiter</b> (default: the in-process one): see {@link ConnectionLimiter}, to share
 *       the per-IP limits across a fleet.</li>
 * </ul>
 * <pre>{@code
 * SmartProxy.builder().admission(a -> a.maxConnectionsPerIp(20).connectionRateLimitPerMinute(60).maxConnections(50_000))
 * }</pre>
 *
 * @param maxConnectionsPerIp          concurrent connections per client IP; 0 = no limit
 * @param connectionRateLimitPerMinute new connections per client IP per minute; 0 = no limit
 * @param maxConnections               connections open proxy-wide; 0 = no limit
 * @param maxTrackedIps                idle client IPs whose state is kept
 * @param limiter                      a user's limiter, or null for the in-process one
 */
public record AdmissionSettings(int maxConnectionsPerIp, int connectionRateLimitPerMinute, int maxConnections,
                                int maxTrackedIps, ConnectionLimiter limiter) {
    private static final AdmissionSettings DEFAULTS = builder().build();

    /** Validates every value (the builder's messages). */
    public AdmissionSettings {
        Checks.range("maxConnectionsPerIp", maxConnectionsPerIp, 0, Integer.MAX_VALUE);
        Checks.range("connectionRateLimitPerMinute", connectionRateLimitPerMinute, 0, 60_000_000);
        Checks.range("maxConnections", maxConnections, 0, Integer.MAX_VALUE);
        Checks.range("maxTrackedIps", maxTrackedIps, 1, 1 << 24);
    }

    /** 100 per IP, 300 per IP per minute, no proxy-wide maximum, 65,536 idle IPs tracked, in-process. */
    public static AdmissionSettings defaults() {
        return DEFAULTS;
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxConnectionsPerIp = maxConnectionsPerIp;
        b.connectionRateLimitPerMinute = connectionRateLimitPerMinute;
        b.maxConnections = maxConnections;
        b.maxTrackedIps = maxTrackedIps;
        b.limiter = limiter;
        return b;
    }

    /** The user's limiter, if one replaces the in-process one. */
    public Optional<ConnectionLimiter> customLimiter() {
        return Optional.ofNullable(limiter);
    }

    /** Builds {@link AdmissionSettings}; each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private int maxConnectionsPerIp = 100;
        private int connectionRateLimitPerMinute = 300;
        private int maxConnections;
        private int maxTrackedIps = 65_536;
        private ConnectionLimiter limiter;

        private Builder() {
        }

        /** Concurrent connections per client IP, 0 (no limit) or more. Default 100. */
        public Builder maxConnectionsPerIp(int n) {
            maxConnectionsPerIp = (int) Checks.range("maxConnectionsPerIp", n, 0, Integer.MAX_VALUE);
            return this;
        }

        /** New connections per client IP per minute (token bucket), 0 (no limit) to 60,000,000. Default 300. */
        public Builder connectionRateLimitPerMinute(int n) {
            connectionRateLimitPerMinute = (int) Checks.range("connectionRateLimitPerMinute", n, 0, 60_000_000);
            return this;
        }

        /** Connections open proxy-wide, 0 (no limit) or more; at the maximum accepting pauses. Default 0. */
        public Builder maxConnections(int n) {
            maxConnections = (int) Checks.range("maxConnections", n, 0, Integer.MAX_VALUE);
            return this;
        }

        /** Idle client IPs whose per-IP state is kept, 1..16,777,216. Default 65,536. */
        public Builder maxTrackedIps(int n) {
            maxTrackedIps = (int) Checks.range("maxTrackedIps", n, 1, 1 << 24);
            return this;
        }

        /** Replaces the in-process per-IP limiter, e.g. with one over a store shared by a fleet. */
        public Builder limiter(ConnectionLimiter limiter) {
            this.limiter = Objects.requireNonNull(limiter, "limiter");
            return this;
        }

        /** Builds the settings. */
        public AdmissionSettings build() {
            return new AdmissionSettings(maxConnectionsPerIp, connectionRateLimitPerMinute, maxConnections,
                    maxTrackedIps, limiter);
        }
    }
}
