package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.TlsHandshake;
import dev.smartproxy.event.WebSocketClose;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.HttpMetrics;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.StatusClass;
import dev.smartproxy.metrics.TlsFailureCause;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.testing.WebSocketEchoServer;
import dev.smartproxy.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code SmartProxy.metrics()} and the new listener events against the traffic each test drives,
 * over real sockets (the leak detector runs at paranoid for every test class).
 */
class MetricsTest {
    private final Closer closer = new Closer();
    private final Events events = new Events();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** Every event of the new families, kept in order. */
    static final class Events implements ProxyEventListener {
        final List<HttpExchange> exchanges = new CopyOnWriteArrayList<>();
        final List<TlsHandshake> handshakes = new CopyOnWriteArrayList<>();
        final List<Object[]> backends = new CopyOnWriteArrayList<>();
        final List<String> upgrades = new CopyOnWriteArrayList<>();
        final List<WebSocketClose> wsCloses = new CopyOnWriteArrayList<>();
        final List<ConnectionInfo> closed = new CopyOnWriteArrayList<>();

        @Override
        public void onHttpExchange(HttpExchange exchange) {
            exchanges.add(exchange);
        }

        @Override
        public void onTlsHandshake(ConnectionInfo connection, TlsHandshake handshake) {
            handshakes.add(handshake);
        }

        @Override
        public void onBackendConnected(ConnectionInfo connection, InetSocketAddress backend, Duration connectTime) {
            backends.add(new Object[]{connection.id(), backend, connectTime});
        }

        @Override
        public void onWebSocketUpgraded(ConnectionInfo connection, String path) {
            upgrades.add(path);
        }

        @Override
        public void onWebSocketClosed(ConnectionInfo connection, WebSocketClose close) {
            wsCloses.add(close);
        }

        @Override
        public void onClosed(ConnectionInfo connection) {
            closed.add(connection);
        }
    }

    /**
     * An HTTP/1.1 backend (keep-alive) answering {@code .../<code>?size=<n>} with that status and
     * n body bytes; request bodies need a Content-Length.
     */
    private TestServer statusBackend() {
        return closer.keep(TestServer.plain("status", sock -> {
            InputStream in = sock.getInputStream();
            OutputStream out = sock.getOutputStream();
            while (true) {
                String line = TlsClients.readLine(in);
                if (line == null || line.isBlank()) {
                    return;
                }
                String target = line.split(" ")[1];
                int length = 0;
                for (String h = TlsClients.readLine(in); h != null && !h.isBlank(); h = TlsClients.readLine(in)) {
                    if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).trim());
                    }
                }
                in.readNBytes(length);
                String path = target.contains("?") ? target.substring(0, target.indexOf('?')) : target;
                int status = Integer.parseInt(path.substring(path.lastIndexOf('/') + 1));
                int size = target.contains("?size=") ? Integer.parseInt(target.substring(target.indexOf("?size=") + 6)) : 0;
                out.write(("HTTP/1.1 " + status + " X\r\nContent-Length: " + size + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(new byte[size]);
                out.flush();
            }
        }));
    }

    private static HttpClient https() {
        return HttpClient.newBuilder().sslContext(TestPki.shared().clientContext()).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    @Test
    void httpExchangesAreCountedByRouteAndStatusClassWithTheirLatencyAndReported() throws Exception {
        TestServer backend = statusBackend();
        int backendPort = backend.port();
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("a.test"))
                .route(Route.named("api").match(m -> m.ports(443).domains("a.test").paths("/api/"))
                        .forward(f -> f.target("127.0.0.1", backendPort).tls(TlsMode.TERMINATE))), 443));
        String base = "https://a.test:" + Proxies.port(proxy, 443);
        HttpClient client = https();
        int[] statuses = {200, 200, 201, 404, 400, 503};
        int[] sizes = {100, 0, 7, 13, 0, 1000};
        for (int i = 0; i < statuses.length; i++) {
            HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(URI.create(base + "/api/status/" + statuses[i]
                    + "?size=" + sizes[i])).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(r.statusCode()).isEqualTo(statuses[i]);
            assertThat(r.body()).hasSize(sizes[i]);
        }
        HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create(base + "/api/status/200?size=5"))
                .POST(HttpRequest.BodyPublishers.ofString("hello world")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(200);
        HttpResponse<String> none = client.send(HttpRequest.newBuilder(URI.create(base + "/elsewhere")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(none.statusCode()).isEqualTo(404);

        Await.until("8 exchange events", () -> events.exchanges.size() == 8);
        ProxyMetrics m = proxy.metrics();
        HttpMetrics api = m.httpByRoute().get("api");
        assertThat(api.responses(StatusClass.SUCCESS)).isEqualTo(4);
        assertThat(api.responses(StatusClass.CLIENT_ERROR)).isEqualTo(2);
        assertThat(api.responses(StatusClass.SERVER_ERROR)).isEqualTo(1);
        assertThat(api.responses(StatusClass.INFORMATIONAL)).isZero();
        assertThat(api.latency().count()).isEqualTo(7);
        assertThat(api.latency().max()).isPositive();
        HttpMetrics proxyAnswered = m.httpByRoute().get(HttpMetrics.NO_ROUTE);
        assertThat(proxyAnswered.responses(StatusClass.CLIENT_ERROR)).isEqualTo(1);
        assertThat(proxyAnswered.total()).isEqualTo(1);
        assertThat(m.kind(ConnectionKind.TERMINATED).open()).isEqualTo(1); // the HttpClient keeps its connection
        BackendMetrics b = m.byBackend().get("127.0.0.1:" + backendPort);
        assertThat(b.connects()).isPositive();
        assertThat(b.connectFailures()).isZero();
        assertThat(b.connectTime().count()).isEqualTo(b.connects());

        HttpExchange first = events.exchanges.get(0);
        assertThat(first.connectionId()).isPositive();
        assertThat(first.client().getAddress().isLoopbackAddress()).isTrue();
        assertThat(first.route()).isEqualTo("api");
        assertThat(first.backend()).isEqualTo(new InetSocketAddress("127.0.0.1", backendPort));
        assertThat(first.method()).isEqualTo("GET");
        assertThat(first.host()).startsWith("a.test");
        assertThat(first.path()).isEqualTo("/api/status/200?size=100");
        assertThat(first.protocol()).isEqualTo("HTTP/1.1");
        assertThat(first.status()).isEqualTo(200);
        assertThat(first.requestBytes()).isZero();
        assertThat(first.responseBytes()).isEqualTo(100);
        assertThat(first.answeredByProxy()).isFalse();
        assertThat(first.timeToFirstByte()).isNotNull().isLessThanOrEqualTo(first.duration());
        assertThat(first.startedAt()).isBefore(java.time.Instant.now().plusSeconds(1));
        assertThat(events.exchanges.stream().map(HttpExchange::status))
                .containsExactly(200, 200, 201, 404, 400, 503, 200, 404);
        assertThat(events.exchanges.stream().map(HttpExchange::responseBytes))
                .containsExactly(100L, 0L, 7L, 13L, 0L, 1000L, 5L, (long) none.body().length());
        HttpExchange posted = events.exchanges.get(6);
        assertThat(posted.method()).isEqualTo("POST");
        assertThat(posted.requestBytes()).isEqualTo("hello world".length());
        HttpExchange noRoute = events.exchanges.get(7);
        assertThat(noRoute.route()).isNull();
        assertThat(noRoute.backend()).isNull();
        assertThat(noRoute.answeredByProxy()).isTrue();
        assertThat(noRoute.path()).isEqualTo("/elsewhere");

        // one successful client handshake, reported with what was negotiated
        assertThat(events.handshakes).singleElement().satisfies(h -> {
            assertThat(h.leg()).isEqualTo(CloseReason.Side.CLIENT);
            assertThat(h.succeeded()).isTrue();
            assertThat(h.protocol()).startsWith("TLSv1.");
            assertThat(h.cipherSuite()).isNotBlank();
            assertThat(h.failure()).isNull();
        });
        assertThat(m.clientTlsFailures()).isEmpty();
    }

    @Test
    void anUnreachableBackendIsA502CountedAsAServerErrorAndAConnectFailure() throws Exception {
        int refused;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            refused = s.getLocalPort();
        }
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("web").match(m -> m.ports(80).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", refused).http())), 80));
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://a.test:" + Proxies.port(proxy, 80) + "/x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(502);
        Await.until("the exchange event", () -> events.exchanges.size() == 1);
        ProxyMetrics m = proxy.metrics();
        assertThat(m.byBackend().get("127.0.0.1:" + refused)).satisfies(b -> {
            assertThat(b.connects()).isZero();
            assertThat(b.connectFailures()).isEqualTo(1);
            assertThat(b.open()).isZero();
        });
        assertThat(m.httpByRoute().get("web").responses(StatusClass.SERVER_ERROR)).isEqualTo(1);
        HttpExchange e = events.exchanges.get(0);
        assertThat(e.status()).isEqualTo(502);
        assertThat(e.route()).isEqualTo("web");
        assertThat(e.answeredByProxy()).isTrue();
        assertThat(events.backends).isEmpty();
    }

    @Test
    void aTcpRelayCountsItsBytesEachWayExactlyByProxyRouteAndBackend() throws Exception {
        int k = 300_000;
        TestServer echo = closer.keep(TestServer.plain("echo", s -> {
            byte[] got = s.getInputStream().readNBytes(k);
            s.getOutputStream().write(got);
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the client closes
        }));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("tcp").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", echo.port()))), 25));
        assertThat(proxy.metrics().bytesIn().total()).isZero();
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 25))) {
            byte[] sent = new byte[k];
            new java.util.Random(7).nextBytes(sent);
            c.getOutputStream().write(sent);
            c.getOutputStream().flush();
            assertThat(c.getInputStream().readNBytes(k)).isEqualTo(sent);
            ProxyMetrics open = proxy.metrics();
            assertThat(open.bytesIn().total()).isEqualTo(k);
            assertThat(open.bytesOut().total()).isEqualTo(k);
            assertThat(open.open()).isEqualTo(1);
            assertThat(open.byRoute().get("tcp")).satisfies(r -> {
                assertThat(r.open()).isEqualTo(1);
                assertThat(r.bytesIn().total()).isEqualTo(k);
                assertThat(r.bytesOut().total()).isEqualTo(k);
            });
            assertThat(open.byBackend().get("127.0.0.1:" + echo.port()).open()).isEqualTo(1);
            assertThat(open.topClients()).singleElement().satisfies(t -> {
                assertThat(t.address().isLoopbackAddress()).isTrue();
                assertThat(t.open()).isEqualTo(1);
            });
        }
        Proxies.awaitIdle(proxy);
        ProxyMetrics m = proxy.metrics();
        assertThat(m.bytesIn().total()).isEqualTo(k);
        assertThat(m.bytesOut().total()).isEqualTo(k);
        assertThat(m.accepted()).isEqualTo(1);
        assertThat(m.closedTotal()).isEqualTo(1);
        assertThat(m.kind(ConnectionKind.PLAIN)).satisfies(km -> {
            assertThat(km.open()).isZero();
            assertThat(km.routed()).isEqualTo(1);
            assertThat(km.closed()).isEqualTo(1);
        });
        RouteMetrics r = m.byRoute().get("tcp");
        assertThat(r.routed()).isEqualTo(1);
        assertThat(r.closed()).isEqualTo(1);
        assertThat(r.open()).isZero();
        assertThat(r.bytesIn().total()).isEqualTo(k);
        assertThat(r.bytesOut().total()).isEqualTo(k);
        BackendMetrics b = m.byBackend().get("127.0.0.1:" + echo.port());
        assertThat(b.connects()).isEqualTo(1);
        assertThat(b.connectTime().count()).isEqualTo(1);
        Await.until("the backend leg counted closed", () -> proxy.metrics().byBackend()
                .get("127.0.0.1:" + echo.port()).open() == 0);
        assertThat(m.topClients()).isEmpty();
        assertThat(events.backends).singleElement().satisfies(e -> {
            assertThat(e[1]).isEqualTo(new InetSocketAddress("127.0.0.1", echo.port()));
            assertThat((Duration) e[2]).isPositive();
        });
    }

    @Test
    void aRefusedRelayConnectIsAConnectFailure() throws Exception {
        int refused;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            refused = s.getLocalPort();
        }
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("tcp").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", refused))), 25));
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 25))) {
            assertThat(c.getInputStream().read()).isEqualTo(-1);
        }
        Proxies.awaitIdle(proxy);
        ProxyMetrics m = proxy.metrics();
        assertThat(m.byBackend().get("127.0.0.1:" + refused).connectFailures()).isEqualTo(1);
        assertThat(m.closed(CloseReason.CONNECT_REFUSED)).isEqualTo(1);
        assertThat(events.backends).isEmpty();
    }

    @Test
    void webSocketMessagesAreCountedEachWayAndTheUpgradeAndCloseReported() throws Exception {
        WebSocketEchoServer backend = closer.keep(new WebSocketEchoServer("ws.test", false));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("ws.test"))
                .route(Route.named("ws").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE))), 443));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + Proxies.port(proxy, 443) + "/echo"));
        for (int i = 0; i < 3; i++) {
            assertThat(c.echo("m" + i)).isEqualTo("echo: m" + i);
        }
        ProxyMetrics open = proxy.metrics();
        assertThat(open.webSockets().upgraded()).isEqualTo(1);
        assertThat(open.webSockets().open()).isEqualTo(1);
        assertThat(open.webSockets().messagesFromClients()).isEqualTo(3);
        assertThat(open.webSockets().messagesFromBackends()).isEqualTo(3);
        assertThat(open.httpByRoute().get("ws").responses(StatusClass.INFORMATIONAL)).isEqualTo(1);
        assertThat(events.upgrades).containsExactly("/echo");
        assertThat(events.exchanges).singleElement().satisfies(e -> assertThat(e.status()).isEqualTo(101));
        c.close(WebSocket.NORMAL_CLOSURE, "bye");
        assertThat(c.ended.get(5, TimeUnit.SECONDS)).startsWith("close 1000");
        Await.until("the WebSocket close event", () -> events.wsCloses.size() == 1);
        assertThat(events.wsCloses.get(0)).isEqualTo(new WebSocketClose(1000, 1000, 3, 3));
        Proxies.awaitIdle(proxy);
        assertThat(proxy.metrics().webSockets().open()).isZero();
        assertThat(proxy.metrics().webSockets().heartbeatTimeouts()).isZero();
    }

    @Test
    void aHeartbeatTimeoutIsCounted() throws Exception {
        WebSocketEchoServer backend = closer.keep(new WebSocketEchoServer("ws.test", false));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("ws.test"))
                .webSocket(WebSocketSettings.builder().pingInterval(Duration.ofMillis(100))
                        .pingTimeout(Duration.ofMillis(200)).build())
                .route(Route.named("ws").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE))), 443));
        try (SSLSocket s = TlsClients.connect(Proxies.port(proxy, 443), "ws.test")) {
            s.getOutputStream().write(("GET /echo HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            assertThat(TlsClients.readLine(s.getInputStream())).startsWith("HTTP/1.1 101");
            Await.until("a heartbeat timeout", () -> proxy.metrics().webSockets().heartbeatTimeouts() == 1);
        }
        Proxies.awaitIdle(proxy);
        ProxyMetrics m = proxy.metrics();
        assertThat(m.webSockets().upgraded()).isEqualTo(1);
        assertThat(m.webSockets().open()).isZero();
        assertThat(m.closed(CloseReason.HEARTBEAT_TIMEOUT)).isEqualTo(1);
        Await.until("the WebSocket close event", () -> events.wsCloses.size() == 1);
        assertThat(events.wsCloses.get(0).clientCloseCode()).isZero();
    }

    @Test
    void aClientThatDistrustsTheCertificateIsAnUntrustedCertificateFailure() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("a.test"))
                .route(Route.named("api").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", 9).tls(TlsMode.TERMINATE))), 443));
        // The JDK's default trust store does not know the test CA: the client refuses the proxy's certificate.
        SSLContext distrusting = SSLContext.getInstance("TLS");
        distrusting.init(null, null, null);
        try (SSLSocket s = (SSLSocket) distrusting.getSocketFactory().createSocket("127.0.0.1",
                Proxies.port(proxy, 443))) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName("a.test")));
            s.setSSLParameters(p);
            try {
                s.startHandshake();
            } catch (IOException expected) {
                // the client's side of the same failure
            }
        }
        // The metric is counted just before the event is fired: wait for both.
        Await.until("the failure counted and its event fired",
                () -> !proxy.metrics().clientTlsFailures().isEmpty() && !events.handshakes.isEmpty());
        assertThat(proxy.metrics().clientTlsFailures()).containsExactly(
                java.util.Map.entry(TlsFailureCause.UNTRUSTED_CERTIFICATE, 1L));
        assertThat(events.handshakes).singleElement().satisfies(h -> {
            assertThat(h.leg()).isEqualTo(CloseReason.Side.CLIENT);
            assertThat(h.succeeded()).isFalse();
            assertThat(h.protocol()).isNull();
            assertThat(h.failure()).startsWith("UNTRUSTED_CERTIFICATE: ");
        });
    }

    @Test
    void aClientThatOpensAndSaysNothingMoreIsAHandshakeTimeout() throws Exception {
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .initialDataTimeout(Duration.ofMillis(300))
                .certificate(TestPki.certificate("a.test"))
                // no domains: the port is terminated from accept, no ClientHello peek
                .route(Route.named("any").match(m -> m.ports(443))
                        .forward(f -> f.target("127.0.0.1", 9).tls(TlsMode.TERMINATE))), 443));
        // A real ClientHello, then silence: the proxy answers and waits for the rest of the handshake.
        javax.net.ssl.SSLEngine engine = TestPki.shared().clientContext().createSSLEngine("a.test", 443);
        engine.setUseClientMode(true);
        java.nio.ByteBuffer hello = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(java.nio.ByteBuffer.allocate(0), hello);
        hello.flip();
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 443))) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            out.write(hello.array(), 0, hello.limit());
            out.flush();
            in.readAllBytes(); // the server's flight, then the close
        }
        Await.until("the failure counted", () -> !proxy.metrics().clientTlsFailures().isEmpty());
        assertThat(proxy.metrics().clientTlsFailures()).containsOnlyKeys(TlsFailureCause.HANDSHAKE_TIMEOUT);
    }

    @Test
    void backendHandshakesAreReportedAndAnUntrustedBackendCountedByCause() throws Exception {
        dev.smartproxy.testing.HttpEchoServer tlsBackend = closer.keep(dev.smartproxy.testing.HttpEchoServer.tls("b.test"));
        String ca = TestPki.shared().ca().getCertificatePEM();
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("a.test"))
                .route(Route.named("trusted").match(m -> m.ports(443).domains("a.test").paths("/t/"))
                        .forward(f -> f.target("127.0.0.1", tlsBackend.port()).tls(TlsMode.TERMINATE_AND_REENCRYPT)
                                .backendTls(dev.smartproxy.config.BackendTls.trustPem(ca).sni("b.test"))))
                .route(Route.named("distrusted").match(m -> m.ports(443).domains("a.test").paths("/d/"))
                        .forward(f -> f.target("127.0.0.1", tlsBackend.port()).tls(TlsMode.TERMINATE_AND_REENCRYPT)
                                .backendTls(dev.smartproxy.config.BackendTls.systemTrust().sni("b.test")))), 443));
        String base = "https://a.test:" + Proxies.port(proxy, 443);
        HttpClient client = https();
        assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/t/x")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/d/x")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(502);
        Await.until("two exchanges", () -> events.exchanges.size() == 2);
        ProxyMetrics m = proxy.metrics();
        assertThat(m.backendTlsFailures()).containsExactly(java.util.Map.entry(TlsFailureCause.UNTRUSTED_CERTIFICATE, 1L));
        assertThat(m.clientTlsFailures()).isEmpty();
        List<TlsHandshake> backendLegs = events.handshakes.stream()
                .filter(h -> h.leg() == CloseReason.Side.BACKEND).toList();
        assertThat(backendLegs).hasSize(2);
        assertThat(backendLegs.get(0).succeeded()).isTrue();
        assertThat(backendLegs.get(0).protocol()).startsWith("TLSv1.");
        assertThat(backendLegs.get(1).succeeded()).isFalse();
        assertThat(backendLegs.get(1).failure()).startsWith("UNTRUSTED_CERTIFICATE: ");
        assertThat(m.httpByRoute().get("distrusted").responses(StatusClass.SERVER_ERROR)).isEqualTo(1);
    }

    @Test
    void listenersAddedAndRemovedAtRunTime() throws Exception {
        TestServer backend = statusBackend();
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder()
                .route(Route.named("web").match(m -> m.ports(80).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).http())),
                80));
        HttpClient client = HttpClient.newHttpClient();
        URI uri = URI.create("http://a.test:" + Proxies.port(proxy, 80) + "/status/200?size=3");
        client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        proxy.addListener(events);
        client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        Await.until("the exchange after the listener was added", () -> events.exchanges.size() == 1);
        assertThat(proxy.removeListener(events)).isTrue();
        assertThat(proxy.removeListener(events)).isFalse();
        client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        Await.until("three exchanges counted", () -> proxy.metrics().httpByRoute().get("web").total() == 3);
        assertThat(events.exchanges).hasSize(1);
    }

    @Test
    void metricsBeforeStartAreZeros() {
        SmartProxy proxy = SmartProxy.builder().route(Route.named("tcp").match(m -> m.ports(25))
                .forward(f -> f.target("127.0.0.1", 9))).build();
        ProxyMetrics m = proxy.metrics();
        assertThat(m.accepted()).isZero();
        assertThat(m.bytesIn().total()).isZero();
        assertThat(m.byRoute()).isEmpty();
        assertThat(m.kind(ConnectionKind.PLAIN).routed()).isZero();
        proxy.close();
    }
}
