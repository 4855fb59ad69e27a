package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RoutingTest {
    // Built, never started: no sockets, no threads, no certificates.
    private final RouteTable routes = SmartProxy.builder()
            .route(Route.named("api")
                    .match(m -> m.ports(443).domains("api.example.com"))
                    .forward(f -> f.target("10.0.0.5", 8443).tls(TlsMode.PASSTHROUGH)))
            .route(Route.named("rest-of-example")
                    .priority(-1)                                    // tried after the others
                    .match(m -> m.ports(443).domains("example.com", "*.example.com"))
                    .forward(f -> f.target("10.0.0.6", 443).tls(TlsMode.PASSTHROUGH)))
            .route(Route.named("no-admin")
                    .match(m -> m.ports(80).domains("example.com").paths("/admin/"))
                    .block())                                        // 403
            .route(Route.named("web")
                    .match(m -> m.ports(80).domains("example.com"))
                    .forward(f -> f.target("10.0.0.7", 8080).http()))
            .build()
            .routes();

    private String routeFor(RouteRequest.Builder request) {
        return routes.match(request.build()).map(Route::name).orElse("no route");
    }

    @Test
    void tlsConnectionsGoByServerName() {
        assertThat(routeFor(RouteRequest.builder().port(443).sni("api.example.com"))).isEqualTo("api");
        assertThat(routeFor(RouteRequest.builder().port(443).sni("shop.example.com"))).isEqualTo("rest-of-example");
        assertThat(routeFor(RouteRequest.builder().port(443).sni("example.org"))).isEqualTo("no route");
        assertThat(routeFor(RouteRequest.builder().port(443))).as("no SNI").isEqualTo("no route");
    }

    @Test
    void httpRequestsGoByHostAndPath() {
        assertThat(routeFor(RouteRequest.builder().port(80).host("example.com").path("/admin/users")))
                .isEqualTo("no-admin");
        assertThat(routeFor(RouteRequest.builder().port(80).host("example.com").path("/shop")))
                .isEqualTo("web");
        assertThat(routeFor(RouteRequest.builder().port(80).host("example.org").path("/")))
                .isEqualTo("no route");                              // the proxy answers 404
    }
}
