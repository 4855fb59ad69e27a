package dev.smartproxy;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every setting of {@link ConnectionPolicy} is carried by every path: its builder, the flat
 * setters of {@code SmartProxy.Builder}, {@code toBuilder()}, {@code policy(...)} and the
 * override layers. Adding a record component without carrying it fails here.
 */
class PolicySurfaceTest {
    /** The settings reached on SmartProxy.Builder through policyFor(kind, ...) rather than a flat setter. */
    private static final Set<String> KIND_LAYERS = Set.of("passthroughOverrides", "terminatedOverrides", "plainOverrides");

    /** Every setting away from its default: a new setting must be added here, through the builder. */
    private static final ConnectionPolicy CUSTOM = ConnectionPolicy.builder()
            .inactivityTimeout(Duration.ofMinutes(7))
            .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
            .keepAliveInactivityMultiplier(3)
            .extendedKeepAliveGrace(Duration.ofMinutes(2))
            .maxConnectionLifetime(Duration.ofHours(5))
            .extendedKeepAliveLifetime(Duration.ofDays(2))
            .connectTimeout(Duration.ofSeconds(3))
            .initialDataTimeout(Duration.ofSeconds(9))
            .maxClientHelloSize(4096)
            .maxPendingDataSize(8192)
            .bufferBudget(1 << 20)
            .halfCloseGraceTls(Duration.ofMinutes(1))
            .halfCloseGracePlain(Duration.ofSeconds(4))
            .tcpKeepAlive(TcpKeepAlive.builder().idle(Duration.ofSeconds(20)).build())
            .gracefulShutdownTimeout(Duration.ofSeconds(5))
            .passthroughOverrides(k -> k.keepAliveTreatment(KeepAliveTreatment.IMMORTAL))
            .terminatedOverrides(k -> k.inactivityTimeout(Duration.ofMinutes(1)))
            .plainOverrides(k -> k.maxLifetime(Duration.ofHours(1)))
            .build();

    private static Object value(RecordComponent c, ConnectionPolicy p) throws Exception {
        return c.getAccessor().invoke(p);
    }

    @Test
    void theFixtureSetsEverySettingAwayFromItsDefault() throws Exception {
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            assertThat(value(c, CUSTOM)).as("%s: set it in CUSTOM (through the builder)", c.getName())
                    .isNotEqualTo(value(c, ConnectionPolicy.defaults()));
        }
    }

    @Test
    void toBuilderCarriesEverySetting() throws Exception {
        ConnectionPolicy copy = CUSTOM.toBuilder().build();
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            assertThat(value(c, copy)).as(c.getName()).isEqualTo(value(c, CUSTOM));
        }
        assertThat(copy).isEqualTo(CUSTOM);
    }

    @Test
    void everySettingHasASetterOnBothBuilders() {
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            boolean onPolicyBuilder = Arrays.stream(ConnectionPolicy.Builder.class.getMethods())
                    .anyMatch(m -> m.getName().equals(c.getName()) && m.getReturnType() == ConnectionPolicy.Builder.class);
            assertThat(onPolicyBuilder).as("ConnectionPolicy.Builder.%s(...)", c.getName()).isTrue();
            if (KIND_LAYERS.contains(c.getName())) {
                continue; // SmartProxy.Builder.policyFor(kind, ...), tested below
            }
            boolean flat = Arrays.stream(SmartProxy.Builder.class.getMethods())
                    .anyMatch(m -> m.getName().equals(c.getName()) && m.getParameterCount() == 1
                            && m.getParameterTypes()[0] == c.getType());
            assertThat(flat).as("SmartProxy.Builder.%s(%s)", c.getName(), c.getType().getSimpleName()).isTrue();
        }
    }

    @Test
    void theFlatSettersOfTheProxyBuilderCarryEverySetting() throws Exception {
        SmartProxy.Builder b = SmartProxy.builder().route(dev.smartproxy.route.Route.named("r")
                .match(m -> m.ports(7000)).forward(f -> f.target("b", 7000)));
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            if (KIND_LAYERS.contains(c.getName())) {
                continue;
            }
            Method setter = SmartProxy.Builder.class.getMethod(c.getName(), c.getType());
            setter.invoke(b, value(c, CUSTOM));
        }
        b.policyFor(ConnectionKind.PASSTHROUGH, k -> k.keepAliveTreatment(KeepAliveTreatment.IMMORTAL))
                .policyFor(ConnectionKind.TERMINATED, k -> k.inactivityTimeout(Duration.ofMinutes(1)))
                .policyFor(ConnectionKind.PLAIN, k -> k.maxLifetime(Duration.ofHours(1)));
        assertThat(b.build().policy()).isEqualTo(CUSTOM);
    }

    @Test
    void wholePolicyAndEditInPlaceCarryEverySetting() {
        SmartProxy.Builder b = SmartProxy.builder().route(dev.smartproxy.route.Route.named("r")
                .match(m -> m.ports(7000)).forward(f -> f.target("b", 7000)));
        assertThat(b.policy(CUSTOM).build().policy()).isEqualTo(CUSTOM);
        assertThat(b.policy(p -> p.connectTimeout(Duration.ofSeconds(3))).build().policy()).isEqualTo(CUSTOM);
    }

    @Test
    void anEmptyOverrideLayerCarriesEveryOtherSetting() throws Exception {
        ConnectionPolicy layered = CUSTOM.withOverrides(RoutePolicy.none(), RoutePolicy.none());
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            if (KIND_LAYERS.contains(c.getName())) {
                assertThat(value(c, layered)).as(c.getName()).isEqualTo(RoutePolicy.none()); // applied, not kept
            } else {
                assertThat(value(c, layered)).as(c.getName()).isEqualTo(value(c, CUSTOM));
            }
        }
    }

    @Test
    void anOverrideLayerChangesOnlyItsSettings() throws Exception {
        RoutePolicy route = RoutePolicy.builder().keepAliveTreatment(KeepAliveTreatment.NORMAL)
                .inactivityTimeout(Duration.ofMinutes(9)).maxLifetime(Duration.ofHours(2)).build();
        ConnectionPolicy layered = CUSTOM.withOverrides(route);
        Set<String> changed = Set.of("keepAliveTreatment", "inactivityTimeout", "maxConnectionLifetime",
                "extendedKeepAliveLifetime");
        for (RecordComponent c : ConnectionPolicy.class.getRecordComponents()) {
            if (!changed.contains(c.getName()) && !KIND_LAYERS.contains(c.getName())) {
                assertThat(value(c, layered)).as(c.getName()).isEqualTo(value(c, CUSTOM));
            }
        }
        assertThat(layered.keepAliveTreatment()).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(layered.inactivityTimeout()).isEqualTo(Duration.ofMinutes(9));
        assertThat(layered.maxConnectionLifetime()).isEqualTo(Duration.ofHours(2));
        assertThat(layered.extendedKeepAliveLifetime()).isEqualTo(Duration.ofHours(2));
    }

    @Test
    void theCanonicalConstructorRunsTheSameChecks() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ConnectionPolicy(Duration.ofMillis(-1),
                        KeepAliveTreatment.NORMAL, 6, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ofSeconds(1),
                        Duration.ofSeconds(1), 1024, 2048, 1 << 20, Duration.ZERO, Duration.ZERO, TcpKeepAlive.defaults(),
                        Duration.ZERO, RoutePolicy.none(), RoutePolicy.none(), RoutePolicy.none()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inactivityTimeout: -1ms (expected: Duration.ZERO to disable, or 1ms to 365d)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ConnectionPolicy(Duration.ofSeconds(1),
                        KeepAliveTreatment.NORMAL, 6, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ofSeconds(1),
                        Duration.ofSeconds(1), 4096, 2048, 1 << 20, Duration.ZERO, Duration.ZERO, TcpKeepAlive.defaults(),
                        Duration.ZERO, RoutePolicy.none(), RoutePolicy.none(), RoutePolicy.none()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPendingDataSize: 2048 (expected: at least maxClientHelloSize, 4096)");
    }
}
