package dev.smartproxy.route;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Path patterns and the per-request half of the route table: host, path and headers. */
class HttpRoutingTest {
    @Test
    void pathPatterns() {
        assertThat(PathPattern.of("*").matches("/anything/at/all")).isTrue();
        assertThat(PathPattern.of("/api/").matches("/api/v1/items")).isTrue();
        assertThat(PathPattern.of("/api/").matches("/api")).isTrue();
        assertThat(PathPattern.of("/api/").matches("/apiary")).isFalse();
        assertThat(PathPattern.of("/static/*").matches("/static/app.js")).isTrue();
        assertThat(PathPattern.of("/static/*").matches("/stat")).isFalse();
        assertThat(PathPattern.of("/users/:id").matches("/users/42")).isTrue();
        assertThat(PathPattern.of("/users/:id").matches("/users/")).isFalse();
        assertThat(PathPattern.of("/users/:id").matches("/users/42/posts")).isFalse();
        assertThat(PathPattern.of("/users/:id/posts").matches("/users/7/posts")).isTrue();
        assertThat(PathPattern.of("/health").matches("/health")).isTrue();
        assertThat(PathPattern.of("/health").matches("/Health")).isFalse();
        assertThat(PathPattern.of("/health").matches(null)).isFalse();
    }

    @Test
    void badPathPatternsNameTheSetting() {
        assertThatThrownBy(() -> PathPattern.of("api/")).hasMessageContaining("paths").hasMessageContaining("expected");
        assertThatThrownBy(() -> PathPattern.of("/a*/b")).hasMessageContaining("'*'");
        assertThatThrownBy(() -> PathPattern.of("/users/:")).hasMessageContaining("unnamed");
        assertThatThrownBy(() -> Route.named("x").match(m -> m.ports(80).header("bad name", "v")))
                .hasMessageContaining("header name");
    }

    private static final Route API = Route.named("api").match(m -> m.ports(443).domains("example.com").paths("/api/"))
            .forward(f -> f.target("api", 8080).tls(TlsMode.TERMINATE)).build();
    private static final Route BETA = Route.named("beta").priority(5)
            .match(m -> m.ports(443).domains("example.com").header("X-Beta", "1"))
            .forward(f -> f.target("beta", 8080).tls(TlsMode.TERMINATE)).build();
    private static final Route WEB = Route.named("web").priority(-1).match(m -> m.ports(443).domains("*.example.com", "example.com"))
            .forward(f -> f.target("web", 8080).tls(TlsMode.TERMINATE)).build();
    private static final Route RAW = Route.named("raw").priority(100).match(m -> m.ports(443).domains("raw.example.com"))
            .forward(f -> f.target("raw", 443).tls(TlsMode.PASSTHROUGH)).build();
    private static final Route TO_HTTPS = Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308).build();
    private final RouteTable table = RouteTable.of(List.of(API, BETA, WEB, RAW, TO_HTTPS));

    @Test
    void aTableSaysWhetherAnyRouteMatchesOnHeaders() {
        assertThat(table.matchesHeaders()).as("BETA matches X-Beta").isTrue();
        RouteTable noHeaders = RouteTable.of(List.of(API, WEB, RAW, TO_HTTPS));
        assertThat(noHeaders.matchesHeaders()).isFalse();
        // Without header conditions, headers never change the match: the proxy may leave them out.
        RouteRequest with = RouteRequest.builder().port(443).sni("example.com").host("example.com").path("/").tls(true)
                .header("X-Beta", "1").build();
        RouteRequest without = RouteRequest.builder().port(443).sni("example.com").host("example.com").path("/")
                .tls(true).build();
        assertThat(noHeaders.match(with)).isEqualTo(noHeaders.match(without));
        assertThat(table.match(with)).isNotEqualTo(table.match(without));
    }

    private String http(int port, String host, String path, String... header) {
        // Requests on 443 came over TLS the proxy terminated; those on 80 in the clear.
        RouteRequest.Builder b = RouteRequest.builder().port(port).sni("example.com").host(host).path(path)
                .tls(port == 443);
        for (int i = 0; i < header.length; i += 2) {
            b.header(header[i], header[i + 1]);
        }
        return table.match(b.build()).map(Route::name).orElse("none");
    }

    @Test
    void requestsAreRoutedByHostPathAndHeaders() {
        assertThat(http(443, "example.com", "/api/items")).isEqualTo("api");
        assertThat(http(443, "example.com", "/about")).isEqualTo("web");
        assertThat(http(443, "www.example.com", "/api/items")).as("host decides, not SNI").isEqualTo("web");
        assertThat(http(443, "example.com", "/api/items", "x-beta", "1")).isEqualTo("beta");
        assertThat(http(443, "example.com", "/api/items", "x-beta", "2")).isEqualTo("api");
        assertThat(http(443, "other.org", "/")).isEqualTo("none");
        assertThat(http(80, "example.com", "/x")).isEqualTo("to-https");
    }

    @Test
    void passthroughRoutesNeverTakeHttpRequests() {
        assertThat(http(443, "raw.example.com", "/")).isEqualTo("web");
    }

    @Test
    void atTheConnectionLevelPathConditionsWaitForTheRequests() {
        RouteTable onlyApi = RouteTable.of(List.of(API));
        assertThat(onlyApi.match(RouteRequest.builder().port(443).sni("example.com").build())).contains(API);
        assertThat(table.match(RouteRequest.builder().port(443).sni("raw.example.com").build())).contains(RAW);
    }

    @Test
    void redirectKeepsHostAndPath() {
        RedirectAction r = (RedirectAction) TO_HTTPS.action();
        assertThat(r.locationFor("example.com", "/a/b?c=d", 80)).isEqualTo("https://example.com/a/b?c=d");
        assertThat(r.status()).isEqualTo(308);
        assertThatThrownBy(() -> Route.named("x").match(m -> m.ports(80)).redirectToHttps(302))
                .hasMessageContaining("expected: 301 or 308");
        assertThatThrownBy(() -> new RedirectAction(200, "/x")).hasMessageContaining("redirect status");
    }

    @Test
    void pathsOnlyOnRoutesThatReadHttp() {
        assertThatThrownBy(() -> Route.named("p").match(m -> m.ports(443).domains("a.test").paths("/x"))
                .forward(f -> f.target("b", 443).tls(TlsMode.PASSTHROUGH)).build())
                .hasMessageContaining("route 'p' paths/headers");
        assertThatThrownBy(() -> ForwardAction.builder().target("b", 1).tls(TlsMode.PASSTHROUGH).http().build())
                .hasMessageContaining("http()");
    }

    @Test
    void aCleartextRequestNeverReachesARouteWrittenForTls() {
        Route plainApp = Route.named("plain-app").match(m -> m.ports(443).domains("plain.example.com"))
                .forward(f -> f.target("p", 8080).http()).build();
        RouteTable t = RouteTable.of(List.of(API, WEB, TO_HTTPS, plainApp));
        RouteRequest clear = RouteRequest.builder().port(443).host("example.com").path("/api/x").build();
        assertThat(t.match(clear)).isEmpty();
        assertThat(t.match(RouteRequest.builder().port(443).host("example.com").path("/api/x").tls(true).build()))
                .map(Route::name).contains("api");
        assertThat(t.match(RouteRequest.builder().port(443).host("plain.example.com").path("/").tls(true).build()))
                .as("an http() route takes cleartext only: TLS falls to the TERMINATE catch-all")
                .map(Route::name).contains("web");
        assertThat(t.match(RouteRequest.builder().port(443).host("plain.example.com").path("/").build()))
                .map(Route::name).contains("plain-app");
    }
}
