package dev.smartproxy.route;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RouteRetirementTest {
    private static Route.Builder route() {
        return Route.named("r").match(m -> m.ports(80)).forward(f -> f.target("10.0.0.1", 80));
    }

    @Test
    void keepIsTheDefaultAndTheChoicesSayWhatTheyAre() {
        assertThat(route().build().retirement()).isEqualTo(RouteRetirement.keep());
        assertThat(RouteRetirement.keep().mode()).isEqualTo(RouteRetirement.Mode.KEEP);
        assertThat(RouteRetirement.close().mode()).isEqualTo(RouteRetirement.Mode.CLOSE);
        RouteRetirement drain = RouteRetirement.drain(Duration.ofMinutes(5));
        assertThat(drain.mode()).isEqualTo(RouteRetirement.Mode.DRAIN);
        assertThat(drain.deadline()).isEqualTo(Duration.ofMinutes(5));
        assertThat(drain).isEqualTo(RouteRetirement.drain(Duration.ofSeconds(300))).hasSameHashCodeAs(
                RouteRetirement.drain(Duration.ofSeconds(300)));
        assertThat(RouteRetirement.drain(Duration.ofMillis(1)).deadline()).isEqualTo(Duration.ofMillis(1));
        assertThat(RouteRetirement.drain(Duration.ofDays(7)).deadline()).isEqualTo(Duration.ofDays(7));
    }

    @Test
    void aDrainDeadlineOutOfRangeIsRejectedWithTheRange() {
        assertThatThrownBy(() -> RouteRetirement.drain(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retirement drain deadline: 0 (expected: 1ms to 7d)");
        assertThatThrownBy(() -> RouteRetirement.drain(Duration.ofDays(8))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("retirement drain deadline: ");
        assertThatThrownBy(() -> RouteRetirement.drain(Duration.ofMillis(-5)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RouteRetirement.drain(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> route().retirement(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void aRouteThatDiffersOnlyInItsRetirementHasTheSameDefinitionButIsNotEqual() {
        Route keep = route().build();
        Route close = route().retirement(RouteRetirement.close()).build();
        assertThat(keep.sameDefinition(close)).isTrue();
        assertThat(close.sameDefinition(keep)).isTrue();
        assertThat(keep).isNotEqualTo(close);
        assertThat(close.toString()).contains("retirement=close");
        Route other = Route.named("r").match(m -> m.ports(80)).forward(f -> f.target("10.0.0.2", 80)).build();
        assertThat(keep.sameDefinition(other)).isFalse();
        assertThat(keep.sameDefinition(null)).isFalse();
    }

    @Test
    void forwardsDifferingInBackendTlsOrWebSocketSettingsAreDifferentDefinitions() {
        Route a = Route.named("r").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("10.0.0.1", 443).tls(TlsMode.TERMINATE)).build();
        Route b = Route.named("r").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("10.0.0.1", 443).tls(TlsMode.TERMINATE)
                        .webSocket(dev.smartproxy.config.WebSocketSettings.builder()
                                .pingInterval(Duration.ofSeconds(5)).build())).build();
        assertThat(a.sameDefinition(b)).isFalse();
    }
}
