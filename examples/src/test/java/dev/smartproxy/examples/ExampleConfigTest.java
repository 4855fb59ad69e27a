package dev.smartproxy.examples;

import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** How a user unit-tests a real configuration's routing: the built proxy's table, no sockets, no start(). */
class ExampleConfigTest {
    private final RouteTable routes = ExampleConfig.builder().build().routes();

    private String routeFor(int port, String sni, String client) {
        RouteRequest.Builder r = RouteRequest.builder().port(port).sni(sni);
        if (client != null) {
            r.clientAddress(client);
        }
        return routes.match(r.build()).map(Route::name).orElse("none");
    }

    @Test
    void namesGoWhereTheConfigSays() {
        assertThat(routeFor(443, "ws.example.com", null)).isEqualTo("websocket-passthrough");
        assertThat(routeFor(443, "API.example.com.", null)).isEqualTo("api");
        assertThat(routeFor(443, "shop.example.com", null)).isEqualTo("rest-of-example");
        assertThat(routeFor(443, "example.com", null)).isEqualTo("rest-of-example");
        assertThat(routeFor(443, "example.org", null)).isEqualTo("none");
        assertThat(routeFor(443, null, null)).as("no SNI").isEqualTo("none");
    }

    @Test
    void smtpOnlyFromTheInternalNetwork() {
        assertThat(routeFor(25, null, "10.1.2.3")).isEqualTo("smtp");
        assertThat(routeFor(25, null, "::ffff:10.1.2.3")).isEqualTo("smtp");
        assertThat(routeFor(25, null, "192.0.2.1")).isEqualTo("none");
    }

    @Test
    void theSeedsRecommendedPolicy() {
        var policy = ExampleConfig.builder().build().policy();
        assertThat(policy.keepAliveTreatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(policy.inactivityTimeout().multipliedBy(policy.keepAliveInactivityMultiplier()))
                .isEqualTo(Duration.ofHours(40));
    }
}
