package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.http.HttpHarness.Raw;
import dev.smartproxy.internal.http.HttpHarness.Response;
import dev.smartproxy.internal.http.HttpHarness.Seen;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The HTTP/1.1 reverse-proxy handler over real loopback sockets, against a real Netty backend. */
class HttpProxyHandlerTest {
    private static final long TEN_MIB = 10L * 1024 * 1024;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private HttpHarness harness(HttpSettings settings) throws Exception {
        HttpHarness h = new HttpHarness(settings);
        resources.add(h);
        return h;
    }

    private HttpHarness harness() throws Exception {
        return harness(HttpSettings.defaults());
    }

    private Raw raw(HttpHarness h) throws Exception {
        Raw r = new Raw(h.port());
        resources.add(r);
        return r;
    }

    private static HttpClient jdkClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static URI uri(HttpHarness h, String path) {
        return URI.create("http://127.0.0.1:" + h.port() + path);
    }

    // ------------------------------------------------------------------ forwarding

    @Test
    void forwardsARequestAndItsResponseAndRoutesByHostAndPath() throws Exception {
        HttpHarness h = harness();
        HttpResponse<String> r = jdkClient().send(HttpRequest.newBuilder(uri(h, "/hello?x=1")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello /hello");
        assertThat(h.routed).containsExactly("127.0.0.1 /hello");
        assertThat(h.backend.seen).singleElement().satisfies(s -> assertThat(s.uri()).isEqualTo("/hello?x=1"));
    }

    @Test
    void keepAliveReusesOneClientAndOneBackendConnection() throws Exception {
        HttpHarness h = harness();
        HttpClient c = jdkClient();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(uri(h, "/r" + i)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.body()).isEqualTo("hello /r" + i);
        }
        assertThat(h.conns).hasSize(1);
        assertThat(h.backend.accepted.get()).isEqualTo(1);
        assertThat(h.backend.seen).hasSize(5).extracting(Seen::connection).containsOnly(h.backend.seen.get(0).connection());
    }

    @Test
    void streamsATenMebibyteUpload() throws Exception {
        HttpHarness h = harness();
        byte[] body = new byte[(int) TEN_MIB];
        new HttpHarness.Pattern(7).fill(body, 0, body.length);
        String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        HttpResponse<String> r = jdkClient().send(HttpRequest.newBuilder(uri(h, "/upload"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(expected + " " + TEN_MIB);
    }

    @Test
    void streamsATenMebibyteDownload() throws Exception {
        HttpHarness h = harness();
        HttpResponse<InputStream> r = jdkClient().send(HttpRequest.newBuilder(uri(h, "/download?size=" + TEN_MIB))
                .build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        long[] count = new long[1];
        byte[] digest;
        try (InputStream in = r.body()) {
            digest = TlsClients.readDigestToEnd(in, count);
        }
        assertThat(count[0]).isEqualTo(TEN_MIB);
        assertThat(digest).isEqualTo(HttpHarness.Pattern.digest(TEN_MIB, 42));
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderOverOneBackendConnection() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /one");
        assertThat(c.response().body()).isEqualTo("hello /two");
        assertThat(c.response().body()).isEqualTo("hello /three");
        assertThat(h.backend.accepted.get()).isEqualTo(1);
    }

    @Test
    void connectionCloseIsHonoured() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        Response r = c.response();
        assertThat(r.body()).isEqualTo("hello /bye");
        assertThat(r.header("connection")).isEqualTo("close");
        assertThat(c.closedByPeer()).isTrue();
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    // ------------------------------------------------------------------ headers

    @Test
    void forwardedHeadersAreSetAndClientSuppliedOnesReplaced() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /fwd HTTP/1.1\r\nHost: App.Example:8080\r\nX-Forwarded-For: 6.6.6.6\r\n"
                + "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\n"
                + "Forwarded: for=6.6.6.6\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(200);
        assertThat(h.routed).containsExactly("app.example /fwd");
        Seen s = h.backend.seen.get(0);
        assertThat(s.headers().getAll("X-Forwarded-For")).containsExactly("127.0.0.1");
        assertThat(s.headers().getAll("X-Forwarded-Proto")).containsExactly("http");
        assertThat(s.headers().getAll("X-Forwarded-Host")).containsExactly("App.Example:8080");
        assertThat(s.headers().contains("X-Forwarded-Port")).isFalse();
        assertThat(s.headers().contains("Forwarded")).isFalse();
        assertThat(s.headers().get("Host")).isEqualTo("App.Example:8080");
    }

    @Test
    void trustedForwardedHeadersAreAppendedTo() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().trustForwardedHeaders(true).build());
        Raw c = raw(h).send("GET /fwd HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n"
                + "X-Forwarded-Proto: https\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(200);
        Seen s = h.backend.seen.get(0);
        assertThat(s.headers().get("X-Forwarded-For")).isEqualTo("6.6.6.6, 127.0.0.1");
        assertThat(s.headers().get("X-Forwarded-Proto")).isEqualTo("https");
        assertThat(s.headers().get("X-Forwarded-Host")).isEqualTo("a");
    }

    @Test
    void hopByHopHeadersAreRemovedBothWays() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /echo-headers HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\n"
                + "X-Hop: secret\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
                + "Upgrade: h2c\r\nTrailer: X-T\r\nX-Keep: 1\r\n\r\n");
        Response r = c.response();
        assertThat(r.status()).isEqualTo(200);
        Seen s = h.backend.seen.get(0);
        for (String name : List.of("Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Trailer")) {
            assertThat(s.headers().contains(name)).as(name).isFalse();
        }
        assertThat(s.headers().get("X-Keep")).isEqualTo("1");
        for (String name : List.of("connection", "x-resp-hop", "keep-alive", "proxy-connection")) {
            assertThat(r.headers()).as(name).doesNotContainKey(name);
        }
        assertThat(r.header("x-end")).isEqualTo("1");
    }

    @Test
    void aConnectionListCannotStripTheFramingHeaders() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host\r\n"
                + "Content-Length: 5\r\n\r\nhello");
        Response r = c.response();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest("hello".getBytes(StandardCharsets.US_ASCII)));
        assertThat(r.body()).isEqualTo(sha + " 5");
        assertThat(h.backend.seen.get(0).headers().get("Host")).isEqualTo("a");
    }

    // ------------------------------------------------------------------ rejections

    static Stream<Arguments> malformed() {
        return Stream.of(
                Arguments.of("Content-Length with Transfer-Encoding", 400, "POST /x HTTP/1.1\r\nHost: a\r\n"
                        + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
                Arguments.of("two Content-Length", 400, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        + "Content-Length: 6\r\n\r\nhello!"),
                Arguments.of("chunked not last", 400, "POST /x HTTP/1.1\r\nHost: a\r\n"
                        + "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                Arguments.of("bad chunk size", 400, "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "zz\r\nhello\r\n0\r\n\r\n"),
                Arguments.of("header too large", 431, "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + "a".repeat(20_000)
                        + "\r\n\r\n"),
                Arguments.of("request line too long", 414, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"),
                Arguments.of("bare LF", 400, "GET /x HTTP/1.1\nHost: a\n\n"),
                Arguments.of("no Host", 400, "GET /x HTTP/1.1\r\n\r\n"),
                Arguments.of("two Hosts", 400, "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                Arguments.of("garbage", 400, "\u0016\u0003\u0001 not http at all\r\n\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void malformedRequestsAreRejectedAndNeverForwarded(String name, int status, String request) throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send(request);
        Response r = c.response();
        assertThat(r.status()).isEqualTo(status);
        assertThat(r.header("connection")).isEqualTo("close");
        assertThat(c.closedByPeer()).isTrue();
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        Await.until("backend connections closed", () -> h.backend.open.get() == 0);
        assertThat(h.backend.bytes.get()).isZero();
        assertThat(h.backend.seen).isEmpty();
    }

    @Test
    void aBodyOverTheLimitGets413() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().maxRequestBodySize(1000).build());
        Raw declared = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
        assertThat(declared.response().status()).isEqualTo(413);
        assertThat(declared.closedByPeer()).isTrue();

        Raw chunked = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3e8\r\n" + "a".repeat(1000) + "\r\n1\r\nb\r\n0\r\n\r\n");
        assertThat(chunked.response().status()).isEqualTo(413);
        assertThat(chunked.closedByPeer()).isTrue();
        Await.until("close reasons", () -> h.conns.size() == 2 && h.conns.stream().allMatch(c -> c.closeReason() != null));
        assertThat(h.conns).extracting(ManagedConnection::closeReason).containsOnly(CloseReason.PROTOCOL_ERROR);

        Raw within = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + "a".repeat(1000));
        assertThat(within.response().status()).isEqualTo(200);
    }

    @Test
    void aDeadBackendGets502AndTheConnectionStaysUsable() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /dead HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(502);
        c.send("GET /alive HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /alive");
        assertThat(h.onlyConnection().closeReason()).isNull();
    }

    @Test
    void aSilentBackendGets504AfterTheResponseTimeout() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ofMillis(200)).build());
        Raw c = raw(h);
        long start = System.nanoTime();
        c.send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(504);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(190));
        c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /after");
        Await.until("the silent backend connection is dropped", () -> h.backend.open.get() == 1);
    }

    @Test
    void theRequestTimeoutRestartsAfterEveryKeptAliveExchange() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().requestTimeout(Duration.ofMillis(300)).build());
        Raw c = raw(h);
        long lastSent = 0;
        for (int i = 0; i < 6; i++) { // 100 ms apart: twice the timeout in all, never that long between requests
            if (i > 0) {
                Thread.sleep(100); // real idle time between requests, each gap under the 300 ms timeout
            }
            lastSent = System.nanoTime();
            c.send("GET /r" + i + " HTTP/1.1\r\nHost: a\r\n\r\n");
            assertThat(c.response().body()).isEqualTo("hello /r" + i);
        }
        assertThat(c.in.read()).isEqualTo(-1);
        // The timeout counts from the end of the last exchange, which is after its request was sent.
        assertThat(Duration.ofNanos(System.nanoTime() - lastSent)).isGreaterThanOrEqualTo(Duration.ofMillis(290));
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.REQUEST_TIMEOUT);
        assertThat(h.backend.seen).hasSize(6);
    }

    @Test
    void aShortRequestTimeoutDoesNotCutAnExchangeInFlightNorStopTheResponseTimeout() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().requestTimeout(Duration.ofMillis(150))
                .responseTimeout(Duration.ofMillis(400)).build());
        Raw c = raw(h);
        long start = System.nanoTime();
        c.send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(504);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(390));
        assertThat(c.in.read()).isEqualTo(-1); // then idle: the request timeout, counted from the 504
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(390 + 140));
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.REQUEST_TIMEOUT);
    }

    @Test
    void theClientIsReadWhileAResponseIsAwaitedUntilANextRequestArrivesWhichWaitsItsTurn() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ofMillis(300)).build());
        Raw c = raw(h).send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
        Await.until("the request reaches the backend", () -> h.backend.seen.size() == 1);
        Channel client = h.clientChannels.get(0);
        // No switching off and on around each exchange: reading stays on while the response is awaited...
        assertThat(client.eventLoop().submit(() -> client.config().isAutoRead()).get()).isTrue();
        c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        // ...until a next request shows up: it waits, unforwarded, and the client is no longer read.
        Await.until("reading stops", () -> !client.eventLoop().submit(() -> client.config().isAutoRead()).syncUninterruptibly().getNow());
        assertThat(h.backend.seen).hasSize(1);
        assertThat(c.response().status()).isEqualTo(504);
        assertThat(c.response().body()).isEqualTo("hello /next");
        assertThat(h.backend.seen).hasSize(2);
        assertThat(client.eventLoop().submit(() -> client.config().isAutoRead()).get()).isTrue();
    }

    @Test
    void aBackendClosingMidResponseClosesTheClient() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /truncate HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.line()).isEqualTo("HTTP/1.1 200 OK");
        while (!c.line().isEmpty()) {
            // headers
        }
        byte[] rest = c.in.readAllBytes(); // ends when the proxy closes
        assertThat(rest).hasSize(10);
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.BACKEND_CLOSED);
    }

    // ------------------------------------------------------------------ local answers

    @Test
    void redirectAndRespondRoutesAnswerLocallyOnAKeptAliveConnection() throws Exception {
        HttpHarness h = harness();
        Raw c = raw(h).send("GET /redirect/x HTTP/1.1\r\nHost: a\r\n\r\n");
        Response redirect = c.response();
        assertThat(redirect.status()).isEqualTo(308);
        assertThat(redirect.header("location")).isEqualTo("https://example.com/moved");
        c.send("GET /blocked HTTP/1.1\r\nHost: a\r\n\r\n");
        Response blocked = c.response();
        assertThat(blocked.status()).isEqualTo(403);
        assertThat(blocked.body()).isEqualTo("403 Forbidden\n");
        c.send("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /ok");
        assertThat(h.backend.seen).extracting(Seen::uri).containsExactly("/ok");
    }

    // ------------------------------------------------------------------ upgrade

    private static final String WS_REQUEST = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
            + "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\nKeep-Alive: 5\r\n\r\n";

    @Test
    void aWebSocketUpgradeIsHandedOffWithoutLosingBytes() throws Exception {
        HttpHarness h = harness();
        List<String> backendSaw = new CopyOnWriteArrayList<>();
        TestServer ws = TestServer.plain("ws-backend", s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            backendSaw.add(readHead(in));
            // The 101 and the first server bytes in one write: the latter sit in the proxy's decoder.
            out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nHELLO\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String line;
            while ((line = TlsClients.readLine(in)) != null) {
                out.write(("echo:" + line + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        });
        resources.add(ws);
        h.wsPort = ws.port();
        List<String> calls = new CopyOnWriteArrayList<>();
        List<Channel> channels = new CopyOnWriteArrayList<>();
        h.handoff = (client, backend) -> {
            String wire = h.clientWire.get(h.conns.get(0)).toString();
            calls.add("101 already written: " + wire.startsWith("HTTP/1.1 101"));
            channels.add(client);
            channels.add(backend);
            client.pipeline().addLast(new RawRelay(backend));
            backend.pipeline().addLast(new RawRelay(client));
        };

        Raw c = raw(h).send(WS_REQUEST);
        Response r = c.response();
        assertThat(r.status()).isEqualTo(101);
        assertThat(r.header("upgrade")).isEqualTo("websocket");
        assertThat(r.header("connection")).isEqualToIgnoringCase("upgrade");
        assertThat(c.line()).isEqualTo("HELLO");
        c.send("ping\n");
        assertThat(c.line()).isEqualTo("echo:ping");

        assertThat(calls).containsExactly("101 already written: true");
        Channel client = channels.get(0);
        Channel backend = channels.get(1);
        Await.until("HTTP handlers removed", () -> client.pipeline().get(ServerCodec.class) == null
                && client.pipeline().get(HttpProxyHandler.class) == null
                && backend.pipeline().get(BackendCodec.class) == null);
        assertThat(h.onlyConnection().isWebSocket()).isTrue();
        String head = backendSaw.get(0).toLowerCase();
        assertThat(head).contains("upgrade: websocket").contains("connection: upgrade")
                .contains("sec-websocket-key: dghlihnhbxbszsbub25jzq==").doesNotContain("keep-alive");
    }

    @Test
    void aRefusedUpgradeIsAnOrdinaryResponse() throws Exception {
        HttpHarness h = harness();
        List<String> calls = new CopyOnWriteArrayList<>();
        h.handoff = (client, backend) -> calls.add("called");
        Raw c = raw(h).send(WS_REQUEST.replace("/ws ", "/ws-refuse "));
        Response r = c.response();
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.body()).isEqualTo("no upgrade");
        c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /next");
        assertThat(calls).isEmpty();
        assertThat(h.onlyConnection().isWebSocket()).isFalse();
        assertThat(h.backend.accepted.get()).isEqualTo(1);
    }

    private static String readHead(InputStream in) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1) {
            b.write(c);
            String s = b.toString(StandardCharsets.ISO_8859_1);
            if (s.endsWith("\r\n\r\n")) {
                return s;
            }
        }
        throw new IllegalStateException("no request head");
    }

    /** Relays raw bytes to another channel; what a WebSocket hand-off would add. */
    private static final class RawRelay extends ChannelInboundHandlerAdapter {
        private final Channel other;

        RawRelay(Channel other) {
            this.other = other;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            other.writeAndFlush(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            other.close();
        }
    }
}
