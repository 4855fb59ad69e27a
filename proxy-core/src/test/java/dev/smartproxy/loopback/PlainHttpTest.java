package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Plain-HTTP ports routed by Host, redirects, blocks, and a request-smuggling attempt through the
 * real proxy, with the proxy serving other clients afterwards.
 */
class PlainHttpTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }


    private static HttpClient http() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @Test
    void plainHttpPortRoutesByHostRedirectsAndBlocks() throws Exception {
        HttpEchoServer a = closer.keep(new HttpEchoServer("site-a"));
        HttpEchoServer b = closer.keep(new HttpEchoServer("site-b"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("a").match(m -> m.ports(80).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", a.port()).http()))
                .route(Route.named("b").match(m -> m.ports(80).domains("b.test"))
                        .forward(f -> f.target("127.0.0.1", b.port()).http()))
                .route(Route.named("admin").priority(10).match(m -> m.ports(80).domains("a.test").paths("/admin/"))
                        .block())
                .route(Route.named("to-https").priority(-1).match(m -> m.ports(80)).redirectToHttps(308)), 80));
        int port = Proxies.port(proxy, 80);
        HttpClient client = http();
        HttpResponse<String> ra = client.send(HttpRequest.newBuilder(URI.create("http://a.test:" + port + "/x")).build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> rb = client.send(HttpRequest.newBuilder(URI.create("http://b.test:" + port + "/y")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ra.body()).contains("server=site-a", "path=/x", "x-forwarded-proto=http");
        assertThat(rb.body()).contains("server=site-b", "path=/y");
        HttpResponse<String> admin = client.send(HttpRequest.newBuilder(
                URI.create("http://a.test:" + port + "/admin/users")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(admin.statusCode()).isEqualTo(403);
        HttpResponse<String> moved = client.send(HttpRequest.newBuilder(
                URI.create("http://ws.test:" + port + "/deep/path?q=1&r=2")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(moved.statusCode()).isEqualTo(308);
        assertThat(moved.headers().firstValue("location")).contains("https://ws.test/deep/path?q=1&r=2");
        assertThat(a.requests()).isEqualTo(1);
        assertThat(proxy.connections()).allSatisfy(c -> assertThat(c.kind()).contains(ConnectionKind.PLAIN));
    }

    @Test
    void smugglingAttemptOnATerminatedConnectionIsRefusedAndOthersAreServed() throws Exception {
        HttpEchoServer backend = closer.keep(new HttpEchoServer("web"));
        X509Bundle cert = TestPki.shared().leaf("a.test");
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(CertificateSource.pem(cert.getCertificatePathPEM(), cert.getPrivateKeyPEM()))
                .route(Route.named("web").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE))), 443));
        int port = Proxies.port(proxy, 443);
        try (SSLSocket s = TlsClients.connect(port, "a.test")) {
            // Content-Length and Transfer-Encoding together: the classic desync. Never forwarded.
            s.getOutputStream().write(("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            assertThat(TlsClients.readLine(in)).startsWith("HTTP/1.1 400");
            while (in.read() >= 0) {
                // drain until the proxy closes the connection
            }
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.PROTOCOL_ERROR);
        assertThat(backend.requests()).isZero();
        HttpClient client = HttpClient.newBuilder().sslContext(TestPki.shared().clientContext())
                .version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> ok = client.send(HttpRequest.newBuilder(URI.create("https://a.test:" + port + "/fine"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ok.body()).contains("server=web", "path=/fine");
    }

    @Test
    void deadBackendGets502AndTheConnectionServesTheNextRequest() throws Exception {
        int dead;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            dead = probe.getLocalPort();
        }
        int deadPort = dead;
        HttpEchoServer live = closer.keep(new HttpEchoServer("live"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("dead").match(m -> m.ports(80).paths("/dead/"))
                        .forward(f -> f.target("127.0.0.1", deadPort).http()))
                .route(Route.named("live").priority(-1).match(m -> m.ports(80))
                        .forward(f -> f.target("127.0.0.1", live.port()).http())), 80));
        int port = Proxies.port(proxy, 80);
        HttpClient client = http();
        assertThat(client.send(HttpRequest.newBuilder(URI.create("http://a.test:" + port + "/dead/x")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(502);
        assertThat(client.send(HttpRequest.newBuilder(URI.create("http://a.test:" + port + "/ok")).build(),
                HttpResponse.BodyHandlers.ofString()).body()).contains("server=live");
    }

    @Test
    void anUnresolvableBackendNameGets502AtOnce() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("nowhere").match(m -> m.ports(80))
                        .forward(f -> f.target("no-such-host.invalid", 80).http())), 80));
        HttpResponse<String> r = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build()
                .send(HttpRequest.newBuilder(URI.create("http://a.test:" + Proxies.port(proxy, 80) + "/"))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(502);
    }

    @Test
    void idleKeepAliveAndSlowRequestHeadsAreClosedByTheRequestTimeout() throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .http(dev.smartproxy.config.HttpSettings.builder().requestTimeout(Duration.ofSeconds(1)).build())
                .route(Route.named("web").match(m -> m.ports(80)).forward(f -> f.target("127.0.0.1", web.port()).http())),
                80));
        int port = Proxies.port(proxy, 80);
        try (Socket idle = TlsClients.plain(port); Socket slow = TlsClients.plain(port)) {
            idle.getOutputStream().write("GET /one HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = idle.getInputStream();
            assertThat(TlsClients.readLine(in)).startsWith("HTTP/1.1 200");
            slow.getOutputStream().write("GET /two HTTP/1.1\r\nHost: a.te".getBytes(StandardCharsets.US_ASCII));
            // Neither sends anything more: the kept-alive one and the half-sent head are both closed.
            while (in.read() >= 0) {
                // the rest of the response, then the end of the stream
            }
            assertThat(slow.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(events.awaitClosed(2)).allSatisfy(c -> assertThat(c.closeReason()).contains(CloseReason.REQUEST_TIMEOUT));
        assertThat(web.requests()).isEqualTo(1);
    }

    @Test
    void aClientThatHalfClosesWhileItsResponseIsAwaitedIsBoundByTheHalfCloseGrace() throws Exception {
        java.net.ServerSocket silent = closer.keep(new java.net.ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress()));
        java.util.concurrent.atomic.AtomicReference<Socket> accepted = new java.util.concurrent.atomic.AtomicReference<>();
        Thread acceptor = new Thread(() -> {
            try {
                accepted.set(silent.accept()); // reads nothing, answers nothing
            } catch (java.io.IOException ignored) {
                // closed by the test
            }
        });
        acceptor.start();
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .halfCloseGracePlain(Duration.ofMillis(300))
                .http(dev.smartproxy.config.HttpSettings.builder().responseTimeout(Duration.ZERO).build())
                .route(Route.named("web").match(m -> m.ports(80))
                        .forward(f -> f.target("127.0.0.1", silent.getLocalPort()).http())), 80));
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 80))) {
            c.getOutputStream().write("GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            c.shutdownOutput(); // a complete request, then FIN: the response may still come, within the grace
            assertThat(c.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(events.awaitClosed(1)).singleElement()
                .satisfies(i -> assertThat(i.closeReason()).contains(CloseReason.HALF_CLOSE_GRACE_EXPIRED));
        acceptor.join(5000);
        assertThat(accepted.get()).isNotNull();
        assertThat(accepted.get().getInputStream().read(new byte[4096])).isPositive();
        accepted.get().close();
    }
}
