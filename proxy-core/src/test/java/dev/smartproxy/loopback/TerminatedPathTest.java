package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.testing.WebSocketEchoServer;
import dev.smartproxy.testing.WsClient;
import dev.smartproxy.testing.HttpEchoServer;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The terminated path end to end with real clients: the JDK's HttpClient and WebSocket over
 * https/wss, curl through terminate and re-encrypt routes, certificates chosen by SNI.
 */
class TerminatedPathTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private SmartProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }


    private static CertificateSource cert(String name) {
        return TestPki.certificate(name);
    }

    private static HttpClient https() {
        return HttpClient.newBuilder().sslContext(TestPki.shared().clientContext()).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    @Test
    void httpsRequestsAreTerminatedRoutedByPathAndForwardedWithForwardedHeaders() throws Exception {
        HttpEchoServer api = closer.keep(new HttpEchoServer("api"));
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("api").match(m -> m.ports(443).domains("a.test").paths("/api/"))
                        .forward(f -> f.target("127.0.0.1", api.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("web").priority(-1).match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE))), 443));
        int port = Proxies.port(proxy, 443);
        HttpClient client = https();
        HttpResponse<String> r1 = client.send(HttpRequest.newBuilder(URI.create("https://a.test:" + port + "/api/items"))
                .header("X-Forwarded-For", "6.6.6.6").build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> r2 = client.send(HttpRequest.newBuilder(URI.create("https://a.test:" + port + "/index.html"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r1.statusCode()).isEqualTo(200);
        assertThat(r1.body()).contains("server=api", "path=/api/items", "x-forwarded-proto=https",
                "x-forwarded-for=127.0.0.1", "x-forwarded-host=a.test:" + port).doesNotContain("6.6.6.6");
        assertThat(r2.body()).contains("server=web", "path=/index.html");
        ConnectionInfo c = proxy.connections().get(0);
        assertThat(c.kind()).contains(ConnectionKind.TERMINATED);
        assertThat(proxy.connections()).hasSize(1); // both requests on one kept-alive connection
    }

    @Test
    void sniPicksTheCertificateAndUnknownNamesGetTheDefaultOrFail() throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        Route any = Route.named("any").match(m -> m.ports(443).domains("*"))
                .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE)).build();
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .certificate(cert("b.test")).route(any), 443));
        int port = Proxies.port(proxy, 443);
        for (String name : List.of("a.test", "b.test")) {
            try (SSLSocket s = TlsClients.connect(port, name)) {
                X509Certificate leaf = (X509Certificate) s.getSession().getPeerCertificates()[0];
                assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=" + name);
            }
        }
        assertThatThrownBy(() -> TlsClients.connect(port, "c.test")).isInstanceOf(java.io.IOException.class);
        assertThat(events.awaitClosed(3)).anySatisfy(c -> assertThat(c.closeReason())
                .contains(CloseReason.TLS_HANDSHAKE_FAILED));
        proxy.close();
        proxy = closer.keep(Proxies.start(SmartProxy.builder().certificate(cert("a.test")).defaultCertificate(cert("b.test"))
                .route(any), 443));
        // The default certificate is not for c.test: record what the server presents instead of verifying it.
        X509Certificate[] presented = new X509Certificate[1];
        javax.net.ssl.SSLContext recording = javax.net.ssl.SSLContext.getInstance("TLS");
        recording.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                presented[0] = chain[0];
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        try (SSLSocket s = (SSLSocket) recording.getSocketFactory().createSocket("127.0.0.1", Proxies.port(proxy, 443))) {
            var p = s.getSSLParameters();
            p.setServerNames(List.of(new javax.net.ssl.SNIHostName("c.test")));
            s.setSSLParameters(p);
            s.startHandshake();
            assertThat(presented[0].getSubjectX500Principal().getName()).isEqualTo("CN=b.test");
        }
    }

    @Test
    void wssThroughATerminatedRouteIsKeptAliveByTheHeartbeat() throws Exception {
        WebSocketEchoServer backend = closer.keep(new WebSocketEchoServer("ws.test", false));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("ws.test"))
                .route(Route.named("ws").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE)
                                .webSocket(WebSocketSettings.builder().pingInterval(Duration.ofMillis(100))
                                        .pingTimeout(Duration.ofSeconds(1)).build()))), 443));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + Proxies.port(proxy, 443) + "/echo"));
        assertThat(c.echo("hi")).isEqualTo("echo: hi");
        Thread.sleep(2500); // idle for 25 ping intervals, past the ping timeout: answered pings keep it open
        assertThat(c.ended).isNotDone();
        assertThat(c.echo("still")).isEqualTo("echo: still");
        assertThat(proxy.connections().get(0).webSocket()).isTrue();
        assertThat(backend.pingsReceived()).as("the proxy pinged the backend leg").isPositive();
        c.close(WebSocket.NORMAL_CLOSURE, "bye");
        assertThat(c.ended.get(5, TimeUnit.SECONDS)).startsWith("close 1000");
        assertThat(events.awaitClosed(1).get(0).closeReason().orElseThrow())
                .isIn(CloseReason.CLIENT_CLOSED, CloseReason.BACKEND_CLOSED);
    }

    @Test
    void aClientThatStopsAnsweringIsClosedWithHeartbeatTimeoutAndTheBackendLegToo() throws Exception {
        WebSocketEchoServer backend = closer.keep(new WebSocketEchoServer("ws.test", false));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("ws.test"))
                .webSocket(WebSocketSettings.builder().pingInterval(Duration.ofMillis(100))
                        .pingTimeout(Duration.ofMillis(200)).build())
                .route(Route.named("ws").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE))), 443));
        // A real TLS client that completes the upgrade and then goes silent: it never reads the
        // proxy's pings, so it never answers them (the JDK's WebSocket client always would).
        try (SSLSocket s = TlsClients.connect(Proxies.port(proxy, 443), "ws.test")) {
            s.getOutputStream().write(("GET /echo HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            assertThat(TlsClients.readLine(s.getInputStream())).startsWith("HTTP/1.1 101");
            ConnectionInfo closed = events.awaitClosed(1).get(0);
            assertThat(closed.closeReason()).contains(CloseReason.HEARTBEAT_TIMEOUT);
            assertThat(closed.webSocket()).isTrue();
            assertThat(closed.kind()).contains(ConnectionKind.TERMINATED);
        }
        dev.smartproxy.testing.Await.until("the backend leg closed", () -> backend.openConnections() == 0);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void passthroughWebSocketOnTheSameProxyIsNeverPinged() throws Exception {
        WebSocketEchoServer terminated = closer.keep(new WebSocketEchoServer("ws.test", false));
        WebSocketEchoServer passthrough = closer.keep(new WebSocketEchoServer("a.test", true));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("ws.test"))
                .webSocket(WebSocketSettings.builder().pingInterval(Duration.ofMillis(50)).build())
                .route(Route.named("ws").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", terminated.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("raw").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", passthrough.port()).tls(TlsMode.PASSTHROUGH))), 443));
        WsClient c = WsClient.connect(URI.create("wss://a.test:" + Proxies.port(proxy, 443) + "/echo"));
        Thread.sleep(500); // ten ping intervals of the terminated route
        assertThat(c.echo("x")).isEqualTo("echo: x");
        assertThat(passthrough.pingsReceived()).as("pings reaching the passthrough backend").isZero();
        assertThat(proxy.connections()).singleElement().satisfies(info -> {
            assertThat(info.kind()).contains(ConnectionKind.PASSTHROUGH);
            assertThat(info.webSocket()).isFalse();
        });
    }

    @Test
    void curlThroughTerminateAndReencrypt(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        HttpEchoServer plainBackend = closer.keep(new HttpEchoServer("plain"));
        HttpEchoServer tlsBackend = closer.keep(HttpEchoServer.tls("b.test"));
        Path ca = dir.resolve("ca.pem");
        Files.writeString(ca, TestPki.shared().ca().getCertificatePEM());
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("term").match(m -> m.ports(443).domains("a.test").paths("/t/"))
                        .forward(f -> f.target("127.0.0.1", plainBackend.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("reenc").match(m -> m.ports(443).domains("a.test").paths("/r/"))
                        .forward(f -> f.target("127.0.0.1", tlsBackend.port()).tls(TlsMode.TERMINATE_AND_REENCRYPT)
                                .backendTls(BackendTls.trustPem(ca).sni("b.test")))), 443));
        int port = Proxies.port(proxy, 443);
        for (String[] c : new String[][] {{"/t/x", "server=plain"}, {"/r/y", "server=b.test"}}) {
            Process p = new ProcessBuilder("curl", "-sS", "--cacert", ca.toString(), "--resolve",
                    "a.test:" + port + ":127.0.0.1", "https://a.test:" + port + c[0]).redirectErrorStream(true).start();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(out).contains(c[1], "path=" + c[0]);
        }
    }
}
