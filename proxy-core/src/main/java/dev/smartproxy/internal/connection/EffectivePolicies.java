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
