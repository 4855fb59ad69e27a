package dev.smartproxy;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.internal.pipeline.AcceptPlan;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The builder and the built (never started) proxy: no sockets. */
class SmartProxyBuilderTest {

    private static Route.Builder passthrough(String name, int port, String... domains) {
        return Route.named(name)
                .match(m -> m.ports(port).domains(domains))
                .forward(f -> f.target("backend-" + name, 8443).tls(TlsMode.PASSTHROUGH));
    }

    private static Route.Builder plain(String name, int port) {
        return Route.named(name).match(m -> m.ports(port)).forward(f -> f.target("backend-" + name, 9000));
    }

    private static SmartProxy.Builder minimal() {
        return SmartProxy.builder().route(plain("tcp", 7000));
    }

    private static RouteRequest req(int port, String sni) {
        return RouteRequest.builder().port(port).sni(sni).build();
    }

    // ---- build() rejections ----

    @Test
    void noRoutesRejected() {
        assertThatThrownBy(() -> SmartProxy.builder().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("routes")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> SmartProxy.builder().routes(List.of()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("routes");
    }

    @Test
    void duplicateRouteNamesRejected() {
        SmartProxy.Builder b = SmartProxy.builder()
                .route(passthrough("web", 443, "a.test"))
                .route(plain("web", 80));
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'web'")
                .hasMessageContaining("unique");
    }

    @ParameterizedTest
    @EnumSource(value = TlsMode.class, names = {"TERMINATE", "TERMINATE_AND_REENCRYPT"})
    void terminatingTlsModesRejected(TlsMode mode) {
        SmartProxy.Builder b = SmartProxy.builder()
                .route(passthrough("ok", 443, "a.test"))
                .route(Route.named("needs-termination")
                        .match(m -> m.ports(443).domains("b.test"))
                        .forward(f -> f.target("backend", 8080).tls(mode)));
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("needs-termination")
                .hasMessageContaining(mode.name())
                .hasMessageContaining("expected");
    }

    @Test
    void passthroughAndPlainRoutesBuild() {
        SmartProxy proxy = SmartProxy.builder()
                .route(passthrough("tls", 443, "a.test"))
                .route(plain("tcp", 22))
                .build();
        assertThat(proxy.routes().routes()).extracting(Route::name).containsExactly("tls", "tcp");
    }

    @Test
    void listenOverrideForUnusedPortRejected() {
        SmartProxy.Builder b = minimal().listen(9999, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("listen routePort")
                .hasMessageContaining("9999")
                .hasMessageContaining("expected")
                .hasMessageContaining("7000");
    }

    @Test
    void listenOverrideForUsedPortBuilds() {
        assertThatCode(() -> minimal().listen(7000, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).build())
                .doesNotThrowAnyException();
    }

    @Test
    void listenOverrideCoveredByARangeBuilds() {
        SmartProxy.Builder b = SmartProxy.builder()
                .route(Route.named("range").match(m -> m.portRange(8000, 8002)).forward(f -> f.target("b", 1)))
                .listen(8001, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        assertThatCode(b::build).doesNotThrowAnyException();
    }

    @Test
    void acceptProxyProtocolValidatesAtOnceAndAtBuild() {
        for (int bad : new int[] {0, -1, 65536}) {
            assertThatThrownBy(() -> SmartProxy.builder().acceptProxyProtocol(bad, "10.0.0.0/8"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("acceptProxyProtocol routePort")
                    .hasMessageContaining("expected: 1..65535");
        }
        assertThatThrownBy(() -> SmartProxy.builder().acceptProxyProtocol(443))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acceptProxyProtocol trustedProxies: []")
                .hasMessageContaining("expected: at least one");
        for (String bad : new String[] {"lb.example.com", "10.0.0.0/33", "", null}) {
            assertThatThrownBy(() -> SmartProxy.builder().acceptProxyProtocol(443, "10.0.0.1", bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("acceptProxyProtocol trustedProxies: ")
                    .hasMessageContaining("expected: an IP address or CIDR block");
        }
        assertThatThrownBy(minimal().acceptProxyProtocol(9999, "10.0.0.0/8")::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acceptProxyProtocol routePort: 9999")
                .hasMessageContaining("expected: a port some route uses")
                .hasMessageContaining("7000");
        assertThat(minimal().acceptProxyProtocol(7000, "10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.1").build())
                .isNotNull();
    }

    @Test
    void listenValidatesAtOnce() {
        InetSocketAddress lo = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        for (int bad : new int[] {0, -1, 65536}) {
            assertThatThrownBy(() -> SmartProxy.builder().listen(bad, lo))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("listen routePort")
                    .hasMessageContaining("expected: 1..65535");
        }
        assertThatThrownBy(() -> SmartProxy.builder().listen(443, InetSocketAddress.createUnresolved("localhost", 0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("listen address")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> SmartProxy.builder().listen(443, null)).isInstanceOf(NullPointerException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "example.com", "never-resolve-me.invalid", "", " ", "10.0.0", "256.0.0.1",
            "1.2.3.4.5", "::g", "127.0.0.1:80", "*"})
    void bindAddressMustBeALiteral(String bad) {
        assertThatThrownBy(() -> SmartProxy.builder().bindAddress(bad))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("bindAddress: ")
                .hasMessageContaining("expected: an IP address literal");
    }

    @Test
    void bindAddressAcceptsLiterals() {
        for (String ok : new String[] {"127.0.0.1", "0.0.0.0", "::1", "::", " 10.1.2.3 "}) {
            assertThatCode(() -> minimal().bindAddress(ok).build()).as(ok).doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> SmartProxy.builder().bindAddress(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void ioThreadsRange() {
        for (int bad : new int[] {0, -1, 1025, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            assertThatThrownBy(() -> SmartProxy.builder().ioThreads(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("ioThreads: " + bad)
                    .hasMessageContaining("expected: 1..1024");
        }
        assertThatCode(() -> minimal().ioThreads(1).build()).doesNotThrowAnyException();
        assertThatCode(() -> minimal().ioThreads(1024).build()).doesNotThrowAnyException();
    }

    @Test
    void nullArgumentsRejected() {
        assertThatThrownBy(() -> SmartProxy.builder().route((Route) null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SmartProxy.builder().route((Route.Builder) null))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SmartProxy.builder().transport(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SmartProxy.builder().listener(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SmartProxy.builder().policy((ConnectionPolicy) null))
                .isInstanceOf(NullPointerException.class);
    }

    // ---- routes(): the same pure table ----

    @Test
    void routesOfABuiltProxyMatchLikeATableOfTheSameRoutes() {
        List<Route> routes = List.of(
                passthrough("catch-all", 443, "*").build(),
                Route.named("api").priority(10)
                        .match(m -> m.ports(443).domains("api.example.com"))
                        .forward(f -> f.target("api-backend", 8443).tls(TlsMode.PASSTHROUGH)).build(),
                passthrough("wild", 443, "*.example.com").build(),
                plain("fallback", 443).priority(-1).build(),
                plain("ssh", 22).build());
        SmartProxy proxy = SmartProxy.builder().routes(routes).build();
        RouteTable reference = RouteTable.of(routes);

        assertThat(proxy.routes().routes()).containsExactlyElementsOf(reference.routes());
        assertThat(proxy.routes().ports()).isEqualTo(reference.ports());
        for (RouteRequest r : List.of(req(443, "api.example.com"), req(443, "x.example.com"), req(443, "example.com"),
                req(443, null), req(22, null), req(22, "a.test"), req(80, null))) {
            assertThat(proxy.routes().match(r)).as("%s", r).isEqualTo(reference.match(r));
        }
        assertThat(proxy.routes().match(req(443, "API.example.com.")).map(Route::name)).contains("api");
        assertThat(proxy.routes().match(req(443, "example.com")).map(Route::name)).contains("catch-all");
        assertThat(proxy.routes().match(req(443, null)).map(Route::name)).contains("fallback");
        assertThat(proxy.routes().match(req(80, null))).isEmpty();
        assertThat(AcceptPlan.decide(proxy.routes(), 22, null).route().map(Route::name)).contains("ssh");
        assertThat(AcceptPlan.decide(proxy.routes(), 443, null).needsClientHello()).isTrue();
    }

    @Test
    void routesKeepDeclarationOrderAcrossBuilderCalls() {
        SmartProxy proxy = SmartProxy.builder()
                .route(plain("first", 80))
                .routes(List.of(plain("second", 80).build(), plain("third", 80).build()))
                .route(plain("fourth", 80).build())
                .build();
        assertThat(proxy.routes().routes()).extracting(Route::name)
                .containsExactly("first", "second", "third", "fourth");
        assertThat(proxy.routes().match(req(80, null)).map(Route::name)).contains("first");
        assertThatThrownBy(() -> proxy.routes().routes().clear()).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void builderChangesAfterBuildDoNotAffectTheProxy() {
        SmartProxy.Builder b = minimal().inactivityTimeout(Duration.ofMinutes(1));
        SmartProxy proxy = b.build();
        b.route(plain("later", 7001)).inactivityTimeout(Duration.ofMinutes(2));
        assertThat(proxy.routes().routes()).extracting(Route::name).containsExactly("tcp");
        assertThat(proxy.policy().inactivityTimeout()).isEqualTo(Duration.ofMinutes(1));
    }

    // ---- policy delegation ----

    @Test
    void defaultPolicy() {
        assertThat(minimal().build().policy()).isEqualTo(ConnectionPolicy.defaults());
    }

    @Test
    void policySettersDelegate() {
        TcpKeepAlive ka = TcpKeepAlive.builder().idle(Duration.ofSeconds(30)).probes(3).build();
        SmartProxy proxy = minimal()
                .inactivityTimeout(Duration.ofHours(1))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .keepAliveInactivityMultiplier(10)
                .extendedKeepAliveGrace(Duration.ofMinutes(2))
                .maxConnectionLifetime(Duration.ofHours(12))
                .extendedKeepAliveLifetime(Duration.ofDays(3))
                .connectTimeout(Duration.ofSeconds(5))
                .initialDataTimeout(Duration.ofSeconds(7))
                .maxClientHelloSize(2048)
                .maxPendingDataSize(1 << 20)
                .bufferBudget(32 << 20)
                .halfCloseGraceTls(Duration.ofMinutes(4))
                .halfCloseGracePlain(Duration.ofSeconds(9))
                .tcpKeepAlive(ka)
                .gracefulShutdownTimeout(Duration.ofSeconds(3))
                .build();
        ConnectionPolicy p = proxy.policy();
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(p.keepAliveTreatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(p.keepAliveInactivityMultiplier()).isEqualTo(10);
        assertThat(p.extendedKeepAliveGrace()).isEqualTo(Duration.ofMinutes(2));
        assertThat(p.maxConnectionLifetime()).isEqualTo(Duration.ofHours(12));
        assertThat(p.extendedKeepAliveLifetime()).isEqualTo(Duration.ofDays(3));
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.initialDataTimeout()).isEqualTo(Duration.ofSeconds(7));
        assertThat(p.maxClientHelloSize()).isEqualTo(2048);
        assertThat(p.maxPendingDataSize()).isEqualTo(1 << 20);
        assertThat(p.bufferBudget()).isEqualTo(32 << 20);
        assertThat(p.halfCloseGraceTls()).isEqualTo(Duration.ofMinutes(4));
        assertThat(p.halfCloseGracePlain()).isEqualTo(Duration.ofSeconds(9));
        assertThat(p.tcpKeepAlive()).isEqualTo(ka);
        assertThat(p.gracefulShutdownTimeout()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void policySettersValidateAtOnce() {
        assertThatThrownBy(() -> SmartProxy.builder().inactivityTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("inactivityTimeout")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> SmartProxy.builder().keepAliveInactivityMultiplier(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keepAliveInactivityMultiplier")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> SmartProxy.builder().connectTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("connectTimeout");
        assertThatThrownBy(() -> SmartProxy.builder().bufferBudget(1024))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bufferBudget: 1024 (expected: 65536..1099511627776)");
    }

    @Test
    void policyCrossFieldRulesRunInBuild() {
        SmartProxy.Builder b = minimal()
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .inactivityTimeout(Duration.ofDays(100))
                .keepAliveInactivityMultiplier(4);
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keepAliveInactivityMultiplier")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> minimal().maxPendingDataSize(2048).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxPendingDataSize")
                .hasMessageContaining("maxClientHelloSize");
    }

    @Test
    void wholePolicyReplacesEarlierSetters() {
        ConnectionPolicy given = ConnectionPolicy.builder()
                .inactivityTimeout(Duration.ofMinutes(20))
                .keepAliveTreatment(KeepAliveTreatment.IMMORTAL)
                .halfCloseGracePlain(Duration.ZERO)
                .maxClientHelloSize(1024)
                .maxPendingDataSize(4096)
                .bufferBudget(1 << 20)
                .tcpKeepAlive(TcpKeepAlive.disabled())
                .build();
        SmartProxy proxy = minimal()
                .connectTimeout(Duration.ofSeconds(1))
                .policy(given)
                .build();
        assertThat(proxy.policy()).isEqualTo(given);
        assertThat(proxy.policy().connectTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void settersAfterWholePolicyApply() {
        SmartProxy proxy = minimal()
                .policy(ConnectionPolicy.builder().inactivityTimeout(Duration.ofMinutes(20)).build())
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .build();
        assertThat(proxy.policy().inactivityTimeout()).isEqualTo(Duration.ofMinutes(20));
        assertThat(proxy.policy().keepAliveTreatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
    }

    @Test
    void policyEditInPlace() {
        SmartProxy proxy = minimal()
                .policy(p -> p.inactivityTimeout(Duration.ofMinutes(3)).keepAliveTreatment(KeepAliveTreatment.IMMORTAL))
                .build();
        assertThat(proxy.policy().inactivityTimeout()).isEqualTo(Duration.ofMinutes(3));
        assertThat(proxy.policy().keepAliveTreatment()).isEqualTo(KeepAliveTreatment.IMMORTAL);
    }

    // ---- a built proxy that was never started ----

    @Test
    void notStartedProxyHasNoListenersAndNoConnections() {
        SmartProxy proxy = minimal().build();
        assertThatThrownBy(proxy::boundAddresses)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("expected: started");
        assertThatThrownBy(() -> proxy.boundAddress(7000)).isInstanceOf(IllegalStateException.class)
                .hasMessage("boundAddress(7000): the proxy is built (expected: started)");
        assertThatThrownBy(proxy::boundAddresses).hasMessage("boundAddresses(): the proxy is built (expected: started)");
        assertThat(proxy.connections()).isEmpty();
        assertThat(proxy.bufferedBytes()).isZero();
        assertThatCode(proxy::close).doesNotThrowAnyException();
        assertThatCode(proxy::close).doesNotThrowAnyException();
        assertThatThrownBy(proxy::boundAddresses).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aTerminatingConfigurationBuildsAndRoutesWithoutItsKeyMaterial() {
        java.nio.file.Path nowhere = java.nio.file.Path.of("/nonexistent/smartproxy-test/site.pem");
        SmartProxy proxy = SmartProxy.builder()
                .certificate(dev.smartproxy.config.CertificateSource.pemFiles(nowhere,
                        java.nio.file.Path.of("/nonexistent/smartproxy-test/site.key")))
                .route(Route.named("app").match(m -> m.ports(443).domains("app.example.com"))
                        .forward(f -> f.target("10.0.0.5", 8080).tls(TlsMode.TERMINATE)))
                .listen(443, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .build();
        assertThat(proxy.routes().match(req(443, "app.example.com")).map(Route::name)).contains("app");
        // The files are read at start(), before any port is bound; the message names the file.
        assertThatThrownBy(proxy::start).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate " + nowhere + ": no such file (expected: an existing, readable file)");
        assertThatThrownBy(proxy::boundAddresses).isInstanceOf(IllegalStateException.class);
        proxy.close();
    }

    @Test
    void designDocExampleBuilds() {
        SmartProxy proxy = SmartProxy.builder()
                .inactivityTimeout(Duration.ofHours(4))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .keepAliveInactivityMultiplier(10)
                .route(Route.named("websocket-passthrough")
                        .match(m -> m.ports(443).domains("ws.example.com"))
                        .forward(f -> f.target("backend", 443).tls(TlsMode.PASSTHROUGH)))
                .build();
        assertThat(proxy.policy().inactivityTimeout().multipliedBy(proxy.policy().keepAliveInactivityMultiplier()))
                .isEqualTo(Duration.ofHours(40));
        assertThat(proxy.routes().match(req(443, "WS.example.com")).map(Route::name))
                .contains("websocket-passthrough");
        assertThat(proxy.routes().match(req(443, null))).isEmpty();
        assertThat(proxy.routes().match(req(443, "other.example.com"))).isEmpty();
    }
}
