package dev.smartproxy.internal.connection;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The effective policy of a connection from the proxy policy, the kind's overrides and the route's (route > kind > proxy). */
class EffectivePoliciesTest {
    private static final ConnectionPolicy DEFAULTS = ConnectionPolicy.defaults();

    @Test
    void normalUsesTheTimeoutAsIsAndTheConnectionLifetime() {
        EffectivePolicy p = EffectivePolicies.of(DEFAULTS, RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
        assertThat(p.treatment()).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(4));
        assertThat(p.inactivityGrace()).isZero();
        assertThat(p.maxLifetime()).isEqualTo(Duration.ofHours(24));
        assertThat(p.halfCloseGrace()).isEqualTo(Duration.ofMinutes(5));
        assertThat(p.tcpKeepAlive()).isEqualTo(TcpKeepAlive.defaults());
    }

    @Test
    void extendedMultipliesAndUsesTheExtendedLifetime() {
        ConnectionPolicy proxy = DEFAULTS.toBuilder().keepAliveTreatment(KeepAliveTreatment.EXTENDED).build();
        EffectivePolicy p = EffectivePolicies.of(proxy, RoutePolicy.none(), ConnectionKind.PLAIN);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(24));
        assertThat(p.inactivityGrace()).isEqualTo(Duration.ofMinutes(10));
        assertThat(p.maxLifetime()).isEqualTo(Duration.ofDays(7));
        assertThat(p.halfCloseGrace()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void immortalHasNoInactivityAndNoLifetime() {
        ConnectionPolicy proxy = DEFAULTS.toBuilder().keepAliveTreatment(KeepAliveTreatment.IMMORTAL).build();
        EffectivePolicy p = EffectivePolicies.of(proxy, RoutePolicy.builder().maxLifetime(Duration.ofHours(1)).build(),
                ConnectionKind.TERMINATED);
        assertThat(p.inactivityTimeout()).isZero();
        assertThat(p.maxLifetime()).isZero();
        assertThat(p.halfCloseGrace()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void routeOverridesApplyBeforeTheMultiplier() {
        ConnectionPolicy proxy = DEFAULTS.toBuilder().keepAliveTreatment(KeepAliveTreatment.NORMAL).build();
        RoutePolicy route = RoutePolicy.builder().keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .inactivityTimeout(Duration.ofMinutes(10)).maxLifetime(Duration.ofDays(2)).build();
        EffectivePolicy p = EffectivePolicies.of(proxy, route, ConnectionKind.PASSTHROUGH);
        assertThat(p.treatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofMinutes(60));
        assertThat(p.maxLifetime()).isEqualTo(Duration.ofDays(2));
    }

    @Test
    void routeOverridesAreValidated() {
        assertThatThrownBy(() -> RoutePolicy.builder().inactivityTimeout(Duration.ofNanos(1)))
                .hasMessageContaining("route inactivityTimeout").hasMessageContaining("expected");
        assertThatThrownBy(() -> RoutePolicy.builder().maxLifetime(Duration.ofSeconds(-1)))
                .hasMessageContaining("route maxLifetime").hasMessageContaining("expected");
        assertThatThrownBy(() -> RoutePolicy.builder().keepAliveTreatment(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void aRouteOverrideThatWouldOverflowUnderExtendedIsRejectedAtBuild() {
        assertThatThrownBy(() -> SmartProxy.builder()
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED).keepAliveInactivityMultiplier(300)
                .route(Route.named("long").match(m -> m.ports(80))
                        .policy(p -> p.inactivityTimeout(Duration.ofDays(365)))
                        .forward(f -> f.target("b", 80)))
                .build()).hasMessageContaining("route 'long' inactivityTimeout").hasMessageContaining("365d");
    }

    // ---- three layers: route > kind > proxy ----

    private static final ConnectionPolicy LAYERED = ConnectionPolicy.builder()
            .keepAliveTreatment(KeepAliveTreatment.NORMAL).inactivityTimeout(Duration.ofHours(1))
            .keepAliveInactivityMultiplier(3)
            .passthroughOverrides(k -> k.keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                    .inactivityTimeout(Duration.ofHours(2)))
            .terminatedOverrides(k -> k.inactivityTimeout(Duration.ofMinutes(5)))
            .build();

    @Test
    void withoutKindOrRouteOverridesTheProxyDecides() {
        EffectivePolicy p = EffectivePolicies.of(LAYERED, RoutePolicy.none(), ConnectionKind.PLAIN);
        assertThat(p.treatment()).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(p.maxLifetime()).isEqualTo(Duration.ofHours(24));
    }

    @Test
    void theKindOverridesTheProxy() {
        EffectivePolicy passthrough = EffectivePolicies.of(LAYERED, RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
        assertThat(passthrough.treatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(passthrough.inactivityTimeout()).isEqualTo(Duration.ofHours(6)); // the kind's 2 h x 3
        assertThat(passthrough.maxLifetime()).isEqualTo(Duration.ofDays(7));        // EXTENDED: the extended lifetime
        EffectivePolicy terminated = EffectivePolicies.of(LAYERED, RoutePolicy.none(), ConnectionKind.TERMINATED);
        assertThat(terminated.treatment()).isEqualTo(KeepAliveTreatment.NORMAL);    // not overridden: the proxy's
        assertThat(terminated.inactivityTimeout()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void theRouteOverridesTheKindSettingBySetting() {
        RoutePolicy route = RoutePolicy.builder().inactivityTimeout(Duration.ofMinutes(10)).build();
        EffectivePolicy p = EffectivePolicies.of(LAYERED, route, ConnectionKind.PASSTHROUGH);
        assertThat(p.treatment()).isEqualTo(KeepAliveTreatment.EXTENDED);           // the kind's: the route sets none
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofMinutes(30));        // the route's 10 min x 3
        RoutePolicy normal = RoutePolicy.builder().keepAliveTreatment(KeepAliveTreatment.NORMAL)
                .maxLifetime(Duration.ofHours(3)).build();
        EffectivePolicy q = EffectivePolicies.of(LAYERED, normal, ConnectionKind.PASSTHROUGH);
        assertThat(q.treatment()).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(q.inactivityTimeout()).isEqualTo(Duration.ofHours(2));          // the kind's, not multiplied
        assertThat(q.maxLifetime()).isEqualTo(Duration.ofHours(3));
    }

    @Test
    void policyForOnTheProxyBuilderSetsTheKindLayer() {
        SmartProxy proxy = SmartProxy.builder()
                .policyFor(ConnectionKind.PASSTHROUGH, p -> p.keepAliveTreatment(KeepAliveTreatment.EXTENDED))
                .policyFor(ConnectionKind.PASSTHROUGH, p -> p.inactivityTimeout(Duration.ofMinutes(20))) // adds up
                .route(Route.named("r").match(m -> m.ports(7000)).forward(f -> f.target("b", 7000)))
                .build();
        assertThat(proxy.policy().passthroughOverrides().keepAliveTreatment()).contains(KeepAliveTreatment.EXTENDED);
        assertThat(proxy.policy().passthroughOverrides().inactivityTimeout()).contains(Duration.ofMinutes(20));
        assertThat(proxy.policy().plainOverrides().isEmpty()).isTrue();
        EffectivePolicy p = EffectivePolicies.of(proxy.policy(), RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofMinutes(120));
        assertThat(EffectivePolicies.of(proxy.policy(), RoutePolicy.none(), ConnectionKind.PLAIN).treatment())
                .isEqualTo(KeepAliveTreatment.NORMAL);
    }

    @Test
    void aKindOverrideThatWouldOverflowUnderExtendedIsRejected() {
        assertThatThrownBy(() -> SmartProxy.builder().keepAliveInactivityMultiplier(300)
                .policyFor(ConnectionKind.PASSTHROUGH, p -> p.keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                        .inactivityTimeout(Duration.ofDays(2)))
                .route(Route.named("r").match(m -> m.ports(80)).forward(f -> f.target("b", 80)))
                .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("passthroughOverrides inactivityTimeout: 2d x keepAliveInactivityMultiplier 300"
                        + " (expected: a product of at most 365d)");
    }

    @Test
    void aRouteOverrideIsCheckedOverEveryKind() {
        // Fine for the proxy and for the route alone (NORMAL); EXTENDED only through the kind layer.
        assertThatThrownBy(() -> SmartProxy.builder().keepAliveInactivityMultiplier(300)
                .policyFor(ConnectionKind.TERMINATED, p -> p.keepAliveTreatment(KeepAliveTreatment.EXTENDED))
                .route(Route.named("long").match(m -> m.ports(80)).policy(p -> p.inactivityTimeout(Duration.ofDays(2)))
                        .forward(f -> f.target("b", 80)))
                .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("route 'long' inactivityTimeout: 2d x keepAliveInactivityMultiplier 300");
    }

    @Test
    void connectionsOfOneRouteAndKindShareOnePolicyInstance() {
        RoutePolicy route = RoutePolicy.builder().maxLifetime(Duration.ofHours(1)).build();
        EffectivePolicy a = EffectivePolicies.of(DEFAULTS, route, ConnectionKind.PASSTHROUGH);
        EffectivePolicy b = EffectivePolicies.of(DEFAULTS, RoutePolicy.builder().maxLifetime(Duration.ofHours(1)).build(),
                ConnectionKind.PASSTHROUGH);
        assertThat(b).isSameAs(a);
        EffectivePolicy plain = EffectivePolicies.of(DEFAULTS, route, ConnectionKind.PLAIN);
        assertThat(plain).isNotSameAs(a);
        assertThat(plain.halfCloseGrace()).isEqualTo(Duration.ofSeconds(30)); // the plain grace, not a shared TLS one
        assertThat(a.halfCloseGrace()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void sharingIsBoundedAndNeverChangesAValue() {
        for (int i = 0; i < EffectivePolicies.SHARED_MAX + 10; i++) {
            RoutePolicy route = RoutePolicy.builder().maxLifetime(Duration.ofSeconds(3600 + i)).build();
            EffectivePolicy p = EffectivePolicies.of(DEFAULTS, route, ConnectionKind.PLAIN);
            assertThat(p.maxLifetime()).isEqualTo(Duration.ofSeconds(3600 + i));
        }
        RoutePolicy beyond = RoutePolicy.builder().maxLifetime(Duration.ofSeconds(3600 + EffectivePolicies.SHARED_MAX + 10))
                .build();
        EffectivePolicy p = EffectivePolicies.of(DEFAULTS, beyond, ConnectionKind.PLAIN);
        assertThat(p).as("shared again after the table started over")
                .isSameAs(EffectivePolicies.of(DEFAULTS, beyond, ConnectionKind.PLAIN));
    }
}
