package dev.smartproxy;

import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.TestPki;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * build() rejects block and redirect routes that can never act as written: path or header
 * conditions in front of a passthrough route, and routes on TLS ports with nothing to terminate
 * TLS with. No sockets.
 */
class RouteRulesTest {

    private static CertificateSource cert(String name) {
        return TestPki.certificate(name);
    }

    private static Route.Builder passthrough(String name, int port, String... domains) {
        return Route.named(name).match(m -> m.ports(port).domains(domains))
                .forward(f -> f.target("backend-" + name, 8443).tls(TlsMode.PASSTHROUGH));
    }

    private static Route.Builder pathBlock(String name, int priority, int port, String... domains) {
        return Route.named(name).priority(priority).match(m -> m.ports(port).domains(domains).paths("/admin/")).block();
    }

    // ---- paths/headers in front of a passthrough route ----

    @Test
    void aPathBlockBeforeAPassthroughRouteForTheSameNameIsRejectedEvenWithACertificate() {
        SmartProxy.Builder b = SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("no-admin", 10, 443, "a.test"))
                .route(passthrough("app", 443, "a.test"));
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("route 'no-admin': ")
                .hasMessageContaining("passthrough route 'app'")
                .hasMessageContaining("a.test").hasMessageContaining("port 443")
                .hasMessageContaining("(expected: tls(TERMINATE) on 'app'");
    }

    @Test
    void aHeaderRedirectWithoutDomainsBeforeAPassthroughWildcardIsRejected() {
        SmartProxy.Builder b = SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(Route.named("beta").priority(5).match(m -> m.ports(443).header("X-Beta", "1"))
                        .redirect(302, "https://beta.test{path}"))
                .route(passthrough("app", 443, "*.example.com"));
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("route 'beta': ")
                .hasMessageContaining("passthrough route 'app'")
                .hasMessageContaining("expected");
    }

    @Test
    void overlappingWildcardsCountAsTheSameNames() {
        assertThatThrownBy(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("no-admin", 10, 443, "*.example.com"))
                .route(passthrough("api", 443, "api.example.com")).build())
                .hasMessageContaining("route 'no-admin'").hasMessageContaining("'api'");
        assertThatThrownBy(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("no-admin", 10, 443, "api.example.com"))
                .route(passthrough("all", 443, "*.example.com")).build())
                .hasMessageContaining("route 'no-admin'").hasMessageContaining("'all'");
        assertThatThrownBy(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("no-admin", 10, 443, "*.example.com"))
                .route(passthrough("deep", 443, "*.eu.example.com")).build())
                .hasMessageContaining("route 'no-admin'").hasMessageContaining("'deep'");
        assertThatThrownBy(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("no-admin", 10, 443, "*"))
                .route(passthrough("one", 443, "one.test")).build())
                .hasMessageContaining("route 'no-admin'").hasMessageContaining("'one'");
    }

    @Test
    void pathConditionsThatNeverMeetAPassthroughRouteBuild() {
        assertThatCode(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("other-name", 10, 443, "b.test"))
                .route(passthrough("app", 443, "a.test")).build()).as("disjoint names").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(pathBlock("other-port", 10, 8443, "a.test"))
                .route(passthrough("app", 443, "a.test")).build()).as("other port").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder()
                .route(passthrough("app", 443, "a.test"))
                .route(pathBlock("after", -1, 443, "a.test")).build())
                .as("the passthrough route takes the TLS connections first").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(Route.named("web").priority(20).match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("web", 8080).tls(TlsMode.TERMINATE)))
                .route(pathBlock("no-admin", 10, 443, "a.test"))
                .route(passthrough("app", 443, "a.test")).build())
                .as("a TERMINATE route already takes the name").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder().defaultCertificate(cert("a.test"))
                .route(Route.named("internal").priority(10)
                        .match(m -> m.ports(443).domains("a.test").clientIps("10.0.0.0/8").paths("/admin/")).block())
                .route(Route.named("app").match(m -> m.ports(443).domains("a.test").clientIps("192.168.0.0/16"))
                        .forward(f -> f.target("app", 443).tls(TlsMode.PASSTHROUGH))).build())
                .as("different clients").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder()
                .route(Route.named("deny").priority(10).match(m -> m.ports(443).domains("a.test")).block())
                .route(passthrough("app", 443, "a.test")).build())
                .as("a block without conditions closes the connection").doesNotThrowAnyException();
    }

    // ---- no certificate to terminate TLS with ----

    @Test
    void aRedirectOnAPassthroughPortWithoutAnyCertificateIsRejected() {
        SmartProxy.Builder b = SmartProxy.builder()
                .route(passthrough("app", 443, "a.test"))
                .route(Route.named("moved").match(m -> m.ports(443).domains("b.test")).redirect(301, "https://a.test{path}"));
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("route 'moved': ")
                .hasMessageContaining("b.test").hasMessageContaining("port 443")
                .hasMessageContaining("passthrough route 'app'")
                .hasMessageContaining("(expected: certificate(...) or defaultCertificate(...)");
        assertThatCode(() -> b.defaultCertificate(cert("b.test")).build()).doesNotThrowAnyException();
    }

    @Test
    void aConditionalBlockOnAPassthroughPortWithoutAnyCertificateIsRejected() {
        assertThatThrownBy(() -> SmartProxy.builder()
                .route(passthrough("app", 443, "a.test"))
                .route(pathBlock("no-admin", 0, 443, "b.test")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("route 'no-admin': ")
                .hasMessageContaining("certificate");
        assertThatThrownBy(() -> SmartProxy.builder()
                .route(passthrough("app", 443, "a.test"))
                .route(Route.named("catch-all").priority(-1).match(m -> m.ports(443)).redirectToHttps(308)).build())
                .hasMessageStartingWith("route 'catch-all': ")
                .hasMessageContaining("certificate");
    }

    @Test
    void redirectsThatCanServePlainHttpBuildWithoutACertificate() {
        assertThatCode(() -> SmartProxy.builder()
                .route(Route.named("a").match(m -> m.ports(80).domains("a.test")).forward(f -> f.target("a", 8080).http()))
                .route(Route.named("admin").priority(10).match(m -> m.ports(80).domains("a.test").paths("/admin/")).block())
                .route(Route.named("to-https").priority(-1).match(m -> m.ports(80)).redirectToHttps(308)).build())
                .as("a plain-HTTP port").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder()
                .route(passthrough("app", 443, "a.test"))
                .route(Route.named("to-https").priority(-1).match(m -> m.ports(80, 443)).redirectToHttps(308)).build())
                .as("port 80 has no passthrough route").doesNotThrowAnyException();
        assertThatCode(() -> SmartProxy.builder()
                .route(passthrough("all", 443, "*"))
                .route(Route.named("shadowed").match(m -> m.ports(443).domains("a.test")).redirectToHttps(308)).build())
                .as("no TLS connection reaches the redirect").doesNotThrowAnyException();
    }
}
