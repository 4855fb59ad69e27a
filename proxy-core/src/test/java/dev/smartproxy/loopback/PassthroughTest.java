package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.testing.TlsClients.Wire;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SNI passthrough with real TLS on both ends: the JDK's SSLSocket as the client, the JDK's
 * SSLServerSocket as two backends. The proxy sees only the ClientHello; the certificate the
 * client verifies is the backend's own.
 */
class PassthroughTest {
    private TestServer backendA;
    private TestServer backendB;
    private SmartProxy proxy;
    private final Proxies.Recorder events = new Proxies.Recorder();

    /** Answers each line with "name:line"; echoes raw data in bulk mode. */
    private static TestServer.Handler greeter(String name) {
        return s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = TlsClients.readLine(in)) != null) {
                if (line.startsWith("echo ")) {
                    long n = Long.parseLong(line.substring(5));
                    in.transferTo(new java.io.FilterOutputStream(out) {
                        long left = n;

                        @Override
                        public void write(byte[] b, int off, int len) throws java.io.IOException {
                            out.write(b, off, len);
                            left -= len;
                        }
                    });
                    return;
                }
                out.write((name + ":" + line + "\n").getBytes());
                out.flush();
            }
        };
    }

    @BeforeEach
    void setUp() {
        backendA = TestServer.tls("a.test", greeter("a.test"));
        backendB = TestServer.tls("b.test", greeter("b.test"));
        proxy = Proxies.start(SmartProxy.builder()
                .listener(events)
                .route(Route.named("a").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backendA.port()).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("b").match(m -> m.ports(443).domains("*.b.test", "b.test"))
                        .forward(f -> f.target("127.0.0.1", backendB.port()).tls(TlsMode.PASSTHROUGH))), 443);
    }

    @AfterEach
    void tearDown() {
        proxy.close();
        backendA.close();
        backendB.close();
    }

    private int port() {
        return Proxies.port(proxy, 443);
    }

    private static String peerName(SSLSocket s) throws Exception {
        X509Certificate cert = (X509Certificate) s.getSession().getPeerCertificates()[0];
        return cert.getSubjectX500Principal().getName();
    }

    @Test
    void sniChoosesTheBackendAndTheClientVerifiesTheBackendsOwnCertificate() throws Exception {
        try (SSLSocket a = TlsClients.connect(port(), "a.test"); SSLSocket b = TlsClients.connect(port(), "B.Test")) {
            assertThat(peerName(a)).isEqualTo("CN=a.test");
            assertThat(peerName(b)).isEqualTo("CN=b.test");
            TlsClients.writeLine(a, "hello");
            TlsClients.writeLine(b, "hello");
            assertThat(TlsClients.readLine(a.getInputStream())).isEqualTo("a.test:hello");
            assertThat(TlsClients.readLine(b.getInputStream())).isEqualTo("b.test:hello");

            List<ConnectionInfo> open = proxy.connections();
            assertThat(open).hasSize(2);
            assertThat(open).allSatisfy(c -> assertThat(c.kind()).contains(ConnectionKind.PASSTHROUGH));
            assertThat(open).extracting(c -> c.routeName().orElseThrow()).containsExactlyInAnyOrder("a", "b");
            assertThat(open).extracting(c -> c.sni().orElseThrow()).containsExactlyInAnyOrder("a.test", "b.test");
            assertThat(proxy.stats().open(ConnectionKind.PASSTHROUGH)).isEqualTo(2);
        }
        Proxies.awaitIdle(proxy);
        List<ConnectionInfo> closed = events.awaitClosed(2);
        assertThat(closed).allSatisfy(c -> {
            // The client's close_notify makes the backend close too; whichever FIN the proxy
            // reads first names the orderly close.
            assertThat(c.closeReason().orElseThrow()).isIn(CloseReason.CLIENT_CLOSED, CloseReason.BACKEND_CLOSED);
            assertThat(c.bytesFromClient()).isGreaterThan(200); // ClientHello and more
            assertThat(c.bytesFromBackend()).isGreaterThan(200);
        });
        assertThat(proxy.stats().closed(CloseReason.CLIENT_CLOSED) + proxy.stats().closed(CloseReason.BACKEND_CLOSED))
                .isEqualTo(2);
        assertThat(proxy.stats().open(ConnectionKind.PASSTHROUGH)).isZero();
    }

    @Test
    void clientHelloArrivingInManyTinyTcpWrites() throws Exception {
        try (SSLSocket s = TlsClients.connect(port(), "a.test", Wire.smallWrites(3))) {
            TlsClients.writeLine(s, "tiny");
            assertThat(TlsClients.readLine(s.getInputStream())).isEqualTo("a.test:tiny");
        }
    }

    @Test
    void largeClientHelloSplitAcrossTlsRecordsAndSegments() throws Exception {
        // About 2.4 KB of ALPN names makes a ClientHello the size post-quantum key shares give;
        // it is re-framed into 300-byte TLS records and written in 100-byte TCP writes.
        try (SSLSocket s = TlsClients.connect(port(), "a.test", Wire.smallWrites(100).splitRecords(300).padded(2400))) {
            TlsClients.writeLine(s, "big");
            assertThat(TlsClients.readLine(s.getInputStream())).isEqualTo("a.test:big");
        }
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.bytesFromClient()).isGreaterThan(2400);
        assertThat(c.sni()).contains("a.test");
    }

    @Test
    void sixtyFourMebibytesEachWayAreByteExact() throws Exception {
        long size = 64L << 20;
        try (SSLSocket s = TlsClients.connect(port(), "b.test")) {
            TlsClients.writeLine(s, "echo " + size);
            CompletableFuture<byte[]> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return TlsClients.writePattern(s.getOutputStream(), size, 42);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            byte[] received = TlsClients.readDigest(s.getInputStream(), size);
            assertThat(received).isEqualTo(sent.get(60, TimeUnit.SECONDS));
        }
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.bytesFromClient()).isGreaterThan(size);
        assertThat(c.bytesFromBackend()).isGreaterThan(size);
    }

    @Test
    void manyConcurrentConnections() throws Exception {
        int n = 64;
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<String>> replies = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String sni = i % 2 == 0 ? "a.test" : "x.b.test";
                String msg = "m" + i;
                replies.add(pool.submit(() -> {
                    try (SSLSocket s = TlsClients.connect(port(), sni)) {
                        TlsClients.writeLine(s, msg);
                        return TlsClients.readLine(s.getInputStream());
                    }
                }));
            }
            for (int i = 0; i < n; i++) {
                assertThat(replies.get(i).get(60, TimeUnit.SECONDS))
                        .isEqualTo((i % 2 == 0 ? "a.test" : "b.test") + ":m" + i);
            }
        } finally {
            pool.shutdownNow();
        }
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().accepted()).isEqualTo(n);
        assertThat(proxy.stats().closedTotal()).isEqualTo(n);
        assertThat(backendA.connections() + backendB.connections()).isEqualTo(n);
    }
}
