package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRetirement;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSocket;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's smaller code blocks, compiled and run as written ({@link ReadmeTest} checks that
 * the README still shows them), and the shutdown wait the README documents.
 */
class ReadmeSnippetsTest {
    private static final Logger log = LoggerFactory.getLogger(ReadmeSnippetsTest.class);

    @Test
    void aPort443ConfigurationRunsOnAFreePortAndCloseWaitsForAnOpenConnection() throws Exception {
        try (TestServer backend = TestServer.tls("a.test", s -> s.getInputStream().read())) {
            int backendPort = backend.port();
            SmartProxy proxy = SmartProxy.builder()
                .route(Route.named("app")
                    .match(m -> m.ports(443).domains("a.test"))
                    .forward(f -> f.target("127.0.0.1", backendPort).tls(TlsMode.PASSTHROUGH)))
                .listen(443, new InetSocketAddress("127.0.0.1", 0))   // route port 443 on a free port
                .gracefulShutdownTimeout(Duration.ofMillis(300))       // close() waits this for open connections
                .build().start();
            int port = proxy.boundAddress(443).getPort();

            try (proxy; SSLSocket idle = TlsClients.connect(port, "a.test")) {
                Await.until("the client is relayed", () -> proxy.stats().open(ConnectionKind.PASSTHROUGH) == 1);
                long start = System.nanoTime();
                proxy.close();
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close() waited for the idle client")
                        .isGreaterThanOrEqualTo(Duration.ofMillis(300));
                assertThat(proxy.stats().closed(CloseReason.SHUTDOWN)).isEqualTo(1);
            }
        }
    }

    @Test
    void connectionsCountersAndEvents() throws Exception {
        try (SmartProxy proxy = SmartProxy.builder()
                .route(Route.named("app").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", 1).tls(TlsMode.PASSTHROUGH)))
                .listen(443, new InetSocketAddress("127.0.0.1", 0)).build().start()) {
            proxy.connections();   // snapshots: id, kind, route, SNI, client, backend, bytes each way, buffered bytes, times
            proxy.stats();         // open by kind, accepted, closed by reason
            SmartProxy.builder().listener(new ProxyEventListener() {
                @Override public void onClosed(ConnectionInfo c) { log.info("{} closed: {}", c.id(), c.closeReason().orElseThrow()); }
            });
            assertThat(proxy.connections()).isEmpty();
            assertThat(proxy.stats().accepted()).isZero();
        }
    }

    @Test
    void certificateRotation(@TempDir Path dir) throws Exception {
        X509Bundle first = TestPki.shared().issue("a.test");
        X509Bundle renewed = TestPki.shared().issue("a.test");
        Path crt = Files.writeString(dir.resolve("tls.crt"), first.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("tls.key"), first.getPrivateKeyPEM());
        Path renewedCrt = Files.writeString(dir.resolve("new.crt"), renewed.getCertificatePathPEM());
        Path renewedKey = Files.writeString(dir.resolve("new.key"), renewed.getPrivateKeyPEM());
        int backendPort = 1;

        SmartProxy proxy = SmartProxy.builder()
            .certificate(CertificateSource.pemFiles(crt, key))       // e.g. a mounted Kubernetes secret
            .watchCertificates(Duration.ofSeconds(30))                // off by default
            .route(Route.named("site")
                .match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("127.0.0.1", backendPort).tls(TlsMode.TERMINATE)))
            .listen(443, new InetSocketAddress("127.0.0.1", 0))
            .build().start();

        // Or replace the whole set yourself: the default certificate too (null: none).
        proxy.updateCertificates(List.of(CertificateSource.pemFiles(renewedCrt, renewedKey)), null);

        for (CertificateInfo c : proxy.certificates()) {
            log.info("{} {} serial {} until {}: {} days left", c.source(), c.domains(), c.serial(), c.notAfter(), c.daysLeft());
        }

        try (proxy; SSLSocket s = TlsClients.connect(proxy.boundAddress(443).getPort(), "a.test")) {
            assertThat(((java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber())
                    .isEqualTo(renewed.getCertificate().getSerialNumber());
            assertThat(proxy.certificates()).extracting(CertificateInfo::source).containsExactly("certificate " + renewedCrt);
        }
    }

    @Test
    void liveRouteUpdates() throws Exception {
        try (TestServer backend = TestServer.tls("a.test", s -> s.getInputStream().read());
             TestServer admin = TestServer.plain("admin", s -> s.getInputStream().read())) {
            int backendPort = backend.port();
            int adminPort = admin.port();
            try (SmartProxy proxy = SmartProxy.builder()
                    .route(Route.named("app").match(m -> m.ports(443).domains("a.test"))
                            .forward(f -> f.target("127.0.0.1", backendPort).tls(TlsMode.PASSTHROUGH)))
                    .listen(443, new InetSocketAddress("127.0.0.1", 0)).build().start()) {
                RouteUpdate update = proxy.updateRoutes(List.of(
                        Route.named("app").match(m -> m.ports(443).domains("a.test"))
                            .forward(f -> f.target("127.0.0.1", backendPort).tls(TlsMode.PASSTHROUGH)).build(),
                        Route.named("admin").match(m -> m.ports(8443))
                            .forward(f -> f.target("127.0.0.1", adminPort))
                            .retirement(RouteRetirement.drain(Duration.ofMinutes(5))).build()),
                    Map.of(8443, new InetSocketAddress("127.0.0.1", 0)));   // where the new port listens
                log.info("added {}, removed {}, changed {}", update.added(), update.removed(), update.changed());

                assertThat(update.added()).containsExactly("admin");
                assertThat(update.unchanged()).containsExactly("app");
                assertThat(update.portsOpened()).containsExactly(8443);
                try (java.net.Socket s = TlsClients.plain(proxy.boundAddress(8443).getPort())) {
                    Await.until("the new port's connection is routed", () -> proxy.stats().open(ConnectionKind.PLAIN) == 1);
                }
            }
        }
    }
}
