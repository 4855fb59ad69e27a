package dev.smartproxy.config;

import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The effective policy of a connection from proxy defaults, route overrides and kind. */
class EffectivePolicyTest {
    private static final ConnectionPolicy DEFAULTS = ConnectionPolicy.defaults();

    @Test
    void normalUsesTheTimeoutAsIsAndTheConnectionLifetime() {
        EffectivePolicy p = EffectivePolicy.of(DEFAULTS, RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
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
        EffectivePolicy p = EffectivePolicy.of(proxy, RoutePolicy.none(), ConnectionKind.PLAIN);
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(24));
        assertThat(p.inactivityGrace()).isEqualTo(Duration.ofMinutes(10));
        assertThat(p.maxLifetime()).isEqualTo(Duration.ofDays(7));
        assertThat(p.halfCloseGrace()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void immortalHasNoInactivityAndNoLifetime() {
        ConnectionPolicy proxy = DEFAULTS.toBuilder().keepAliveTreatment(KeepAliveTreatment.IMMORTAL).build();
        EffectivePolicy p = EffectivePolicy.of(proxy, RoutePolicy.builder().maxLifetime(Duration.ofHours(1)).build(),
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
        EffectivePolicy p = EffectivePolicy.of(proxy, route, ConnectionKind.PASSTHROUGH);
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
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.smartproxy.SmartProxy.builder()
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED).keepAliveInactivityMultiplier(300)
                .route(dev.smartproxy.route.Route.named("long").match(m -> m.ports(80))
                        .policy(p -> p.inactivityTimeout(Duration.ofDays(365)))
                        .forward(f -> f.target("b", 80)))
                .build()).hasMessageContaining("route 'long' inactivityTimeout").hasMessageContaining("365d");
    }
}
