package dev.smartproxy.internal.connection;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.ConnectionKind;

import java.time.Duration;

/**
 * Computes the {@link EffectivePolicy} of a connection: the proxy's policy, then the overrides
 * for the connection's kind, then the route's overrides (route &gt; kind &gt; proxy, setting by
 * setting), then the treatment. The rules are documented on {@link EffectivePolicy}.
 */
public final class EffectivePolicies {
    private EffectivePolicies() {
    }

    /** The overrides {@code proxy} holds for connections of {@code kind}. */
    public static RoutePolicy kindOverrides(ConnectionPolicy proxy, ConnectionKind kind) {
        return switch (kind) {
            case PASSTHROUGH -> proxy.passthroughOverrides();
            case TERMINATED -> proxy.terminatedOverrides();
            case PLAIN -> proxy.plainOverrides();
        };
    }

    /**
     * The policy of a connection of {@code kind} taken by a route with {@code route} overrides.
     *
     * @throws IllegalArgumentException if the layers break a cross-setting rule (the builder
     *         checks every route and kind, so a built proxy never does)
     */
    public static EffectivePolicy of(ConnectionPolicy proxy, RoutePolicy route, ConnectionKind kind) {
        return shared(compute(proxy, route, kind));
    }

    /**
     * The most distinct policies kept for sharing: a process has a few (one per distinct route
     * and kind settings, a handful of values in practice). Past this bound (live route updates
     * churning through thousands of distinct overrides, many proxies in one JVM) the table starts
     * over: connections keep the instances they hold, and sharing resumes with the next ones.
     */
    static final int SHARED_MAX = 1024;
    private static final java.util.concurrent.ConcurrentHashMap<EffectivePolicy, EffectivePolicy> SHARED =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The one instance equal to {@code p}: every connection of a route and kind (every route
     * with the same settings, in fact) holds the same immutable policy instead of a copy each.
     */
    static EffectivePolicy shared(EffectivePolicy p) {
        EffectivePolicy known = SHARED.get(p);
        if (known != null) {
            return known;
        }
        if (SHARED.size() >= SHARED_MAX) {
            SHARED.clear();
        }
        known = SHARED.putIfAbsent(p, p);
        return known != null ? known : p;
    }

    private static EffectivePolicy compute(ConnectionPolicy proxy, RoutePolicy route, ConnectionKind kind) {
        RoutePolicy kindLayer = kindOverrides(proxy, kind);
        ConnectionPolicy p = kindLayer.isEmpty() && route.isEmpty() ? proxy : proxy.withOverrides(kindLayer, route);
        Duration halfClose = kind == ConnectionKind.PLAIN ? p.halfCloseGracePlain() : p.halfCloseGraceTls();
        return switch (p.keepAliveTreatment()) {
            case IMMORTAL -> new EffectivePolicy(p.keepAliveTreatment(), Duration.ZERO, Duration.ZERO, Duration.ZERO,
                    halfClose, p.tcpKeepAlive());
            case EXTENDED -> new EffectivePolicy(p.keepAliveTreatment(),
                    p.inactivityTimeout().multipliedBy(p.keepAliveInactivityMultiplier()), p.extendedKeepAliveGrace(),
                    p.extendedKeepAliveLifetime(), halfClose, p.tcpKeepAlive());
            case NORMAL -> new EffectivePolicy(p.keepAliveTreatment(), p.inactivityTimeout(), Duration.ZERO,
                    p.maxConnectionLifetime(), halfClose, p.tcpKeepAlive());
        };
    }
}
