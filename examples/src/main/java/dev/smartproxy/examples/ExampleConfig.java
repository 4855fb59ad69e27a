package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;

import java.time.Duration;

/**
 * The configuration of the README's "Build a proxy" section: the seed's recommended settings for
 * WebSockets over SNI passthrough, an API route, and a catch-all for the rest of
 * {@code example.com}. Its routes are unit-tested without sockets in {@code ExampleConfigTest}.
 */
public final class ExampleConfig {
    private ExampleConfig() {
    }

    /** The proxy builder, ready to {@code build()}; bind ports or add listeners before that if needed. */
    public static SmartProxy.Builder builder() {
        return SmartProxy.builder()
                .inactivityTimeout(Duration.ofHours(4))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .keepAliveInactivityMultiplier(10)
                .route(Route.named("websocket-passthrough")
                        .match(m -> m.ports(443).domains("ws.example.com"))
                        .forward(f -> f.target("ws-backend", 443).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("api")
                        .priority(10)
                        .match(m -> m.ports(443).domains("api.example.com"))
                        .forward(f -> f.target("api-1", 8443).target("api-2", 8443).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("rest-of-example")
                        .priority(-1)
                        .match(m -> m.ports(443).domains("example.com", "*.example.com"))
                        .forward(f -> f.target("web", 443).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("smtp")
                        .match(m -> m.ports(25).clientIps("10.0.0.0/8"))
                        .forward(f -> f.target("mail", 25)));
    }
}
