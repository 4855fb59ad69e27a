package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Block routes with path or header conditions and redirect routes act on each request, over TLS
 * the proxy terminates as over plain HTTP: they never cost a client its other requests, and a
 * TLS client is never answered in plaintext.
 */
class PerRequestActionsTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private static CertificateSource cert(String name) {
        return TestPki.certificate(name);
    }

    private static HttpClient https() {
        return HttpClient.newBuilder().sslContext(TestPki.shared().clientContext()).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static HttpClient http() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static HttpResponse<String> get(HttpClient client, String url) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aPathBlockBeforeATerminateRouteRefusesOnlyItsPaths() throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("no-admin").priority(10).match(m -> m.ports(443).domains("a.test").paths("/admin/"))
                        .block())
                .route(Route.named("web").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE))), 443));
        int port = Proxies.port(proxy, 443);
        HttpClient client = https();
        HttpResponse<String> admin = get(client, "https://a.test:" + port + "/admin/x");
        HttpResponse<String> pub = get(client, "https://a.test:" + port + "/public");
        assertThat(admin.statusCode()).isEqualTo(403);
        assertThat(pub.statusCode()).isEqualTo(200);
        assertThat(pub.body()).contains("server=web", "path=/public");
        assertThat(web.requests()).isEqualTo(1);
        assertThat(proxy.connections()).singleElement()
                .satisfies(c -> assertThat(c.kind()).contains(ConnectionKind.TERMINATED));
    }

    @Test
    void aRedirectRouteWithDomainsOnATlsPortAnswersOverTls() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("moved").match(m -> m.ports(443).domains("a.test"))
                        .redirect(308, "https://b.test{path}")), 443));
        HttpResponse<String> r = get(https(), "https://a.test:" + Proxies.port(proxy, 443) + "/deep/x?y=1");
        assertThat(r.statusCode()).isEqualTo(308);
        assertThat(r.headers().firstValue("location")).contains("https://b.test/deep/x?y=1");
    }

    @Test
    void aRedirectRouteWithoutDomainsServesTlsAndPlainClientsOnOnePort() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .defaultCertificate(cert("a.test"))
                .route(Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308)), 80));
        int port = Proxies.port(proxy, 80);
        HttpResponse<String> overTls = get(https(), "https://a.test:" + port + "/p?q=1");
        assertThat(overTls.statusCode()).isEqualTo(308);
        assertThat(overTls.headers().firstValue("location")).contains("https://a.test/p?q=1");
        HttpResponse<String> plain = get(http(), "http://a.test:" + port + "/p?q=2");
        assertThat(plain.statusCode()).isEqualTo(308);
        assertThat(plain.headers().firstValue("location")).contains("https://a.test/p?q=2");
        // Both clients keep their connection alive: one terminated, one plain, on the same port.
        assertThat(proxy.connections()).extracting(c -> c.kind().orElseThrow())
                .containsExactlyInAnyOrder(ConnectionKind.TERMINATED, ConnectionKind.PLAIN);
    }

    @Test
    void aCatchAllRedirectBehindATerminateRouteAnswersOtherNamesOverTls() throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(cert("a.test")).certificate(cert("b.test"))
                .route(Route.named("web").priority(10).match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("elsewhere").match(m -> m.ports(443)).redirect(302, "https://a.test{path}")), 443));
        int port = Proxies.port(proxy, 443);
        HttpResponse<String> moved = get(https(), "https://b.test:" + port + "/old");
        assertThat(moved.statusCode()).isEqualTo(302);
        assertThat(moved.headers().firstValue("location")).contains("https://a.test/old");
        assertThat(get(https(), "https://a.test:" + port + "/new").body()).contains("server=web", "path=/new");
    }

    @Test
    void aPortWithTlsAndPlainRoutesAppliesTheBlockToBoth() throws Exception {
        HttpEchoServer tls = closer.keep(new HttpEchoServer("tls-app"));
        HttpEchoServer plain = closer.keep(new HttpEchoServer("plain-app"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("no-admin").priority(10).match(m -> m.ports(8000).domains("a.test").paths("/admin/"))
                        .block())
                .route(Route.named("tls-app").match(m -> m.ports(8000).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", tls.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("plain-app").match(m -> m.ports(8000).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", plain.port()).http())), 8000));
        int port = Proxies.port(proxy, 8000);
        assertThat(get(https(), "https://a.test:" + port + "/admin/x").statusCode()).isEqualTo(403);
        assertThat(get(https(), "https://a.test:" + port + "/public").body()).contains("server=tls-app");
        assertThat(get(http(), "http://a.test:" + port + "/admin/x").statusCode()).isEqualTo(403);
        assertThat(get(http(), "http://a.test:" + port + "/public").body()).contains("server=plain-app");
    }

    @Test
    void aTerminateRouteWithoutDomainsPicksTheCertificateBySni() throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(cert("a.test")).certificate(cert("b.test"))
                .route(Route.named("web").match(m -> m.ports(443))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE))), 443));
        int port = Proxies.port(proxy, 443);
        for (String name : java.util.List.of("a.test", "b.test")) {
            try (SSLSocket s = TlsClients.connect(port, name)) {
                var leaf = (java.security.cert.X509Certificate) s.getSession().getPeerCertificates()[0];
                assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("CN=" + name);
            }
        }
        assertThat(get(https(), "https://b.test:" + port + "/x").body()).contains("server=web", "path=/x");
    }

    @Test
    void aBlockWithoutConditionsStillClosesTheConnectionAtOnce() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).certificate(cert("a.test"))
                .route(Route.named("deny").match(m -> m.ports(443).domains("a.test")).block()), 443));
        assertThatThrownBy(() -> TlsClients.connect(Proxies.port(proxy, 443), "a.test")).isInstanceOf(IOException.class);
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.closeReason()).contains(CloseReason.BLOCKED);
        assertThat(c.routeName()).contains("deny");
    }

    @Test
    void withoutACertificateATlsClientOfARedirectRouteFailsTheHandshakeAndGetsNoPlaintext() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308)), 80));
        int port = Proxies.port(proxy, 80);
        try (Socket raw = TlsClients.plain(port)) {
            raw.getOutputStream().write(TlsClients.clientHello("a.test"));
            raw.getOutputStream().flush();
            byte[] answer = raw.getInputStream().readAllBytes();
            assertThat(new String(answer, StandardCharsets.ISO_8859_1)).as("no plaintext HTTP answer to a ClientHello")
                    .doesNotContain("HTTP/");
        }
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.closeReason()).contains(CloseReason.TLS_HANDSHAKE_FAILED);
        assertThat(get(http(), "http://a.test:" + port + "/still").headers().firstValue("location"))
                .contains("https://a.test/still");
    }


    // ---- Location (issue 7, item 9) ----

    @Test
    void anHttp10RequestWithoutHostIsRedirectedToTheSniNameOrRefusedWithout() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .defaultCertificate(cert("a.test"))
                .route(Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308)), 80));
        int port = Proxies.port(proxy, 80);
        try (SSLSocket s = TlsClients.connect(port, "a.test")) {
            Map<String, String> head = exchange(s, "GET /x?y=1 HTTP/1.0\r\n\r\n");
            assertThat(head.get("status")).contains(" 308 ");
            assertThat(head.get("location")).isEqualTo("https://a.test/x?y=1");
        }
        try (Socket s = TlsClients.plain(port)) {
            Map<String, String> head = exchange(s, "GET /x HTTP/1.0\r\n\r\n");
            assertThat(head.get("status")).contains(" 400 ");
            assertThat(head).doesNotContainKey("location");
        }
        try (Socket s = TlsClients.plain(port)) {
            Map<String, String> head = exchange(s, "GET /v6?a=b HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n");
            assertThat(head.get("status")).contains(" 308 ");
            assertThat(head.get("location")).isEqualTo("https://[::1]/v6?a=b");
        }
    }

    /** Sends {@code request} and reads the response head: "status" and lower-case header names. */
    private static Map<String, String> exchange(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        Map<String, String> head = new LinkedHashMap<>();
        head.put("status", TlsClients.readLine(in));
        String line;
        while ((line = TlsClients.readLine(in)) != null && !line.strip().isEmpty()) {
            int colon = line.indexOf(':');
            head.put(line.substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT), line.substring(colon + 1).strip());
        }
        return head;
    }
}
