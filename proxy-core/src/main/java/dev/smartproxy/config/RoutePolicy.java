package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Overrides of the proxy-wide {@link ConnectionPolicy} for one route ({@code Route.Builder.policy})
 * or for one kind of connection ({@code SmartProxy.Builder.policyFor}). Unset values fall back:
 * a route's to its kind's, a kind's to the proxy's (route &gt; kind &gt; proxy, setting by setting).
 * Immutable.
 * <pre>{@code
 * Route.named("live-feeds")
 *     .match(m -> m.ports(443).domains("feeds.example.com"))
 *     .policy(p -> p.keepAliveTreatment(KeepAliveTreatment.IMMORTAL))
 *     .forward(f -> f.target("feeds", 443).tls(TlsMode.PASSTHROUGH));
 * }</pre>
 */
public final class RoutePolicy {
    private static final RoutePolicy NONE = builder().build();

    private final KeepAliveTreatment keepAliveTreatment;
    private final Duration inactivityTimeout;
    private final Duration maxLifetime;

    private RoutePolicy(Builder b) {
        this.keepAliveTreatment = b.keepAliveTreatment;
        this.inactivityTimeout = b.inactivityTimeout;
        this.maxLifetime = b.maxLifetime;
    }

    /** No overrides. */
    public static RoutePolicy none() {
        return NONE;
    }

    /** A builder with no overrides. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these overrides. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.keepAliveTreatment = keepAliveTreatment;
        b.inactivityTimeout = inactivityTimeout;
        b.maxLifetime = maxLifetime;
        return b;
    }

    /** Whether nothing is overridden. */
    public boolean isEmpty() {
        return keepAliveTreatment == null && inactivityTimeout == null && maxLifetime == null;
    }

    /** The treatment for this route's connections, if overridden. */
    public Optional<KeepAliveTreatment> keepAliveTreatment() {
        return Optional.ofNullable(keepAliveTreatment);
    }

    /** The base inactivity timeout (before the {@code EXTENDED} multiplier), if overridden. */
    public Optional<Duration> inactivityTimeout() {
        return Optional.ofNullable(inactivityTimeout);
    }

    /** The maximum lifetime, whatever the treatment (except {@code IMMORTAL}), if overridden. */
    public Optional<Duration> maxLifetime() {
        return Optional.ofNullable(maxLifetime);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RoutePolicy p && keepAliveTreatment == p.keepAliveTreatment
                && Objects.equals(inactivityTimeout, p.inactivityTimeout) && Objects.equals(maxLifetime, p.maxLifetime);
    }

    @Override
    public int hashCode() {
        return Objects.hash(keepAliveTreatment, inactivityTimeout, maxLifetime);
    }

    @Override
    public String toString() {
        return "RoutePolicy[" + (keepAliveTreatment == null ? "" : "treatment=" + keepAliveTreatment + " ")
                + (inactivityTimeout == null ? "" : "inactivity=" + Checks.format(inactivityTimeout) + " ")
                + (maxLifetime == null ? "" : "lifetime=" + Checks.format(maxLifetime)) + "]";
    }

    /** Builds a {@link RoutePolicy}; setters validate at once. Not thread-safe. */
    public static final class Builder {
        private KeepAliveTreatment keepAliveTreatment;
        private Duration inactivityTimeout;
        private Duration maxLifetime;

        private Builder() {
        }

        /** Overrides the treatment. */
        public Builder keepAliveTreatment(KeepAliveTreatment treatment) {
            this.keepAliveTreatment = Objects.requireNonNull(treatment, "keepAliveTreatment");
            return this;
        }

        /** Overrides the inactivity timeout: ZERO (off) or 1 ms to 365 days. */
        public Builder inactivityTimeout(Duration timeout) {
            this.inactivityTimeout = Checks.duration("route inactivityTimeout", timeout, ConnectionPolicy.MIN_TIMER,
                    ConnectionPolicy.MAX_TIMER, true);
            return this;
        }

        /** Overrides the maximum lifetime: ZERO (no limit) or 1 ms to 365 days. */
        public Builder maxLifetime(Duration lifetime) {
            this.maxLifetime = Checks.duration("route maxLifetime", lifetime, ConnectionPolicy.MIN_TIMER,
                    ConnectionPolicy.MAX_TIMER, true);
            return this;
        }

        /** Builds the overrides. */
        public RoutePolicy build() {
            return new RoutePolicy(this);
        }
    }
}
