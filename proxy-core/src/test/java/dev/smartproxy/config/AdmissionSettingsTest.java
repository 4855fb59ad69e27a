package dev.smartproxy.config;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteSecurity;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Admission settings: defaults, every validator's message, the builder surfaces, and IP rule logic. */
class AdmissionSettingsTest {
    @Test
    void defaults() {
        AdmissionSettings d = AdmissionSettings.defaults();
        assertThat(d.maxConnectionsPerIp()).isEqualTo(100);
        assertThat(d.connectionRateLimitPerMinute()).isEqualTo(300);
        assertThat(d.maxConnections()).isZero();
        assertThat(d.maxTrackedIps()).isEqualTo(65_536);
        assertThat(d.customLimiter()).isEmpty();
        SmartProxy p = SmartProxy.builder().route(Route.named("r").match(m -> m.ports(1)).forward(f -> f.target("h", 2)))
                .build();
        assertThat(p.admission()).isEqualTo(d);
        assertThat(p.ipRules()).isEqualTo(IpRules.none());
    }

    @Test
    void validatorsNameTheSettingAndTheRange() {
        assertThatThrownBy(() -> AdmissionSettings.builder().maxConnectionsPerIp(-1))
                .hasMessage("maxConnectionsPerIp: -1 (expected: 0..2147483647)");
        assertThatThrownBy(() -> AdmissionSettings.builder().connectionRateLimitPerMinute(-1))
                .hasMessage("connectionRateLimitPerMinute: -1 (expected: 0..60000000)");
        assertThatThrownBy(() -> AdmissionSettings.builder().maxConnections(-5))
                .hasMessage("maxConnections: -5 (expected: 0..2147483647)");
        assertThatThrownBy(() -> AdmissionSettings.builder().maxTrackedIps(0))
                .hasMessage("maxTrackedIps: 0 (expected: 1..16777216)");
        assertThatThrownBy(() -> new AdmissionSettings(1, 1, 1, 0, null))
                .hasMessage("maxTrackedIps: 0 (expected: 1..16777216)");
        assertThatThrownBy(() -> SmartProxy.builder().maxConnectionsPerIp(-1)).hasMessageStartingWith("maxConnectionsPerIp: -1");
        assertThatThrownBy(() -> SmartProxy.builder().connectionRateLimitPerMinute(60_000_001))
                .hasMessageStartingWith("connectionRateLimitPerMinute: 60000001");
        assertThatThrownBy(() -> SmartProxy.builder().maxConnections(-1)).hasMessageStartingWith("maxConnections: -1");
        assertThatThrownBy(() -> SmartProxy.builder().ipAllowList("10.0.0.0/33"))
                .hasMessage("ipAllowList: '10.0.0.0/33' prefix (expected: 0..32)");
        assertThatThrownBy(() -> SmartProxy.builder().ipBlockList("example.com"))
                .hasMessageStartingWith("ipBlockList: 'example.com' (expected: an IPv4 or IPv6 address");
        assertThatThrownBy(() -> RouteSecurity.builder().maxConnections(-1))
                .hasMessage("maxConnections: -1 (expected: 0 (no limit) or more)");
        assertThatThrownBy(() -> RouteSecurity.builder().ipAllowList("::1/129"))
                .hasMessage("ipAllowList: '::1/129' prefix (expected: 0..128)");
        assertThatThrownBy(() -> ConnectionLimiter.Decision.refuse(ConnectionLimiter.Limit.RATE_PER_IP,
                java.time.Duration.ofSeconds(-1))).hasMessage("retryAfter: PT-1S (expected: zero or more)");
    }

    @Test
    void flatSettersAndTheAdmissionBuilderAgree() {
        ConnectionLimiter custom = new ConnectionLimiter() {
            @Override
            public Decision acquire(InetAddress client) {
                return Decision.admit(null);
            }

            @Override
            public void release(Decision admitted) {
            }
        };
        Route r = Route.named("r").match(m -> m.ports(1)).forward(f -> f.target("h", 2)).build();
        SmartProxy flat = SmartProxy.builder().route(r).maxConnectionsPerIp(7).connectionRateLimitPerMinute(8)
                .maxConnections(9).admission(a -> a.maxTrackedIps(10).limiter(custom)).build();
        AdmissionSettings expected = new AdmissionSettings(7, 8, 9, 10, custom);
        assertThat(flat.admission()).isEqualTo(expected);
        assertThat(SmartProxy.builder().route(r).admission(expected).build().admission()).isEqualTo(expected);
        assertThat(expected.toBuilder().build()).isEqualTo(expected);
    }

    @Test
    void blockWinsAndAnEmptyAllowListAllowsEveryoneNotBlocked() throws Exception {
        IpRules rules = IpRules.builder().allow("10.0.0.0/8", "2001:db8::/32").block("10.1.0.0/16").build();
        assertThat(rules.permits(InetAddress.getByName("10.2.3.4"))).isTrue();
        assertThat(rules.permits(InetAddress.getByName("10.1.3.4"))).isFalse();
        assertThat(rules.permits(InetAddress.getByName("192.0.2.1"))).isFalse();
        assertThat(rules.permits(InetAddress.getByName("2001:db8::5"))).isTrue();
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 1, 0, 1};
        assertThat(rules.permits(java.net.Inet6Address.getByAddress(null, mapped, -1))).as("v4-mapped folded").isFalse();
        IpRules blockOnly = IpRules.builder().block("::ffff:192.0.2.0/120").build();
        assertThat(blockOnly.permits(InetAddress.getByName("192.0.2.9"))).isFalse();
        assertThat(blockOnly.permits(InetAddress.getByName("192.0.3.9"))).isTrue();
        assertThat(IpRules.none().permits(InetAddress.getByName("::1"))).isTrue();
    }

    @Test
    void aRoutesSecurityIsPartOfItsValue() {
        Route a = Route.named("r").match(m -> m.ports(1)).security(s -> s.ipAllowList("10.0.0.1").maxConnections(3))
                .forward(f -> f.target("h", 2)).build();
        Route b = Route.named("r").match(m -> m.ports(1)).forward(f -> f.target("h", 2)).build();
        assertThat(a).isNotEqualTo(b);
        assertThat(a.security().maxConnections()).isEqualTo(3);
        assertThat(b.security()).isEqualTo(RouteSecurity.none());
        assertThat(a.toString()).contains("maxConnections=3");
    }
}
