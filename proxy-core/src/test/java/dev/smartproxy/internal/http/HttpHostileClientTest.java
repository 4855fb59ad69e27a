package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.http.HttpHarness.Raw;
import dev.smartproxy.internal.http.HttpHarness.Response;
import dev.smartproxy.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a hostile or broken peer does to one HTTP connection: clients that pipeline and never
 * read, give up halfway through a request, or trickle a body; backends that flood interim heads
 * or break framing. Each case failed before the fix it names.
 */
class HttpHostileClientTest {
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

    private Raw raw(HttpHarness h) throws Exception {
        Raw r = new Raw(h.port());
        resources.add(r);
        return r;
    }

    // ------------------------------------------------------------------ backpressure

    /**
     * Writes pipelined requests without reading until the proxy stops reading them (a write
     * that stays blocked for a second), or {@code capBytes} went out. Returns the requests sent;
     * a request cut by the stall is finished, blocking, once the proxy reads again.
     */
    private static long pipelineUntilStalled(SocketChannel ch, byte[] request, long capBytes) throws IOException {
        ch.configureBlocking(false);
        long sent = 0;
        ByteBuffer buf = ByteBuffer.wrap(request);
        try (Selector sel = Selector.open()) {
            ch.register(sel, SelectionKey.OP_WRITE);
            while ((long) sent * request.length < capBytes) {
                if (!buf.hasRemaining()) {
                    buf.rewind();
                    sent++;
                }
                if (ch.write(buf) == 0) {
                    sel.selectedKeys().clear();
                    if (sel.select(1000) == 0) {
                        // a full second with no room: the proxy is not reading
                        if (buf.position() > 0) {
                            sent++;
                            finishLater(ch, buf);
                        }
                        return sent;
                    }
                }
            }
        }
        return sent;
    }

    private static void finishLater(SocketChannel ch, ByteBuffer rest) {
        Thread t = new Thread(() -> {
            try {
                while (rest.hasRemaining()) {
                    if (ch.write(rest) == 0) {
                        Thread.onSpinWait();
                    }
                }
            } catch (IOException ignored) {
                // the test fails on the missing response
            }
        }, "finish-request");
        t.setDaemon(true);
        t.start();
    }

    @Test
    void aClientThatPipelinesLocallyAnsweredRequestsAndNeverReadsIsPausedNotBuffered() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        byte[] request = "GET /redirect HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        long cap = 64L * 1024 * 1024;
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), h.port()))) {
            long sent = pipelineUntilStalled(ch, request, cap);
            assertThat(sent * request.length).as("bytes the proxy accepted before pausing").isLessThan(cap);
            // Before the fix the proxy kept reading, answering into an unbounded outbound buffer.
            assertThat(h.clientPendingOutbound()).as("responses the proxy holds for the client")
                    .isLessThan(256 * 1024);

            // Nothing is lost: once the client reads, every pipelined request is answered, in order.
            ch.configureBlocking(true);
            Raw reader = new Raw(ch.socket());
            for (long i = 0; i < sent; i++) {
                Response r = reader.response();
                assertThat(r.status()).isEqualTo(308);
            }
            ch.socket().getOutputStream().write("GET /last HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            assertThat(reader.response().body()).isEqualTo("hello /last");
        }
        assertThat(h.onlyConnection().closeReason()).isNotEqualTo(CloseReason.PROXY_ERROR);
    }

    @Test
    void aBackendThatFloodsInterimHeadsToAReadingClientGets502AfterTheCap() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ZERO).build());
        Raw c = raw(h).send("GET /continue-flood HTTP/1.1\r\nHost: a\r\n\r\n");
        for (int i = 0; i < HttpProxyHandler.MAX_INTERIM_HEADS; i++) {
            assertThat(c.response().status()).isEqualTo(100);
        }
        assertThat(c.response().status()).isEqualTo(502);
        c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /after");
    }

    @Test
    void aBackendStreamingInterimHeadsToAClientThatDoesNotReadIsPaused() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ZERO).build());
        Raw c = raw(h).send("GET /continue-flood HTTP/1.1\r\nHost: a\r\n\r\n");
        // The client reads nothing; the proxy must stop reading the backend once the client's
        // buffers are full, so the backend finds its socket unwritable long before its cap.
        Await.until("the backend is paused by the proxy", () -> h.backend.floodPaused.get()
                || h.backend.continueHeads.get() >= HttpHarness.Backend.MAX_CONTINUE_HEADS);
        assertThat(h.backend.floodPaused).isTrue();
        assertThat(h.backend.continueHeads.get()).isLessThan(HttpHarness.Backend.MAX_CONTINUE_HEADS);
        assertThat(c.line()).isEqualTo("HTTP/1.1 100 Continue");
    }

    // ------------------------------------------------------------------ client FIN

    @Test
    void aClientFinWithTheBodyIncompleteAbortsTheExchangeAndClosesBothLegsAtOnce() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(10));
        Await.until("the backend got the request", () -> h.backend.accepted.get() == 1);
        c.socket.shutdownOutput();
        assertThat(c.closedByPeer()).isTrue();
        Await.until("the backend leg is closed", () -> h.backend.open.get() == 0);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aClientFinBeforeTheBackendConnectedStillAbortsTheExchange() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h);
        c.out.write(("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        c.socket.shutdownOutput();
        assertThat(c.closedByPeer()).isTrue();
        Await.until("no backend connection left", () -> h.backend.open.get() == 0);
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aClientFinAfterACompleteRequestStillGetsTheResponse() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        c.socket.shutdownOutput();
        Response r = c.response();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith(" 5");
        assertThat(c.closedByPeer()).isTrue();
        Await.until("the backend leg is closed", () -> h.backend.open.get() == 0);
    }

    // ------------------------------------------------------------------ timeouts

    @Test
    void aBodyThatStopsMovingEndsWith408() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().requestBodyTimeout(Duration.ofMillis(200)).build());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(10));
        long start = System.nanoTime();
        Response r = c.response();
        assertThat(r.status()).isEqualTo(408);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(150));
        assertThat(c.closedByPeer()).isTrue();
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.REQUEST_TIMEOUT);
        Await.until("the backend leg is closed", () -> h.backend.open.get() == 0);
    }

    @Test
    void aBodyThatKeepsMovingIsNotCutByTheBodyTimeout() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().requestBodyTimeout(Duration.ofSeconds(1)).build());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n");
        for (int i = 0; i < 10; i++) {
            Thread.sleep(150); // 1.5 s in all, each gap well inside the 1 s timeout: the point of the test
            c.send("x");
        }
        Response r = c.response();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith(" 10");
    }

    @Test
    void aBodyTrickledBelowTheMinimumRateEndsWith408EvenThoughBytesKeepComing() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().requestBodyTimeout(Duration.ofSeconds(30))
                .minRequestBodyRate(1000, Duration.ofMillis(400)).build());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n");
        Thread dripper = new Thread(() -> {
            try {
                for (int i = 0; i < 200; i++) {
                    c.send("x");
                    Thread.sleep(50); // 20 B/s: far under 1000 B/s, yet never a 30 s gap
                }
            } catch (Exception closed) {
                // the proxy closed the connection: expected
            }
        });
        dripper.setDaemon(true);
        dripper.start();
        assertThat(c.response().status()).isEqualTo(408);
        assertThat(c.closedByPeer()).isTrue();
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.REQUEST_TIMEOUT);
        Await.until("the backend leg is closed", () -> h.backend.open.get() == 0);
    }

    @Test
    void aFastBodyIsNotCutByTheMinimumRate() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().minRequestBodyRate(1000, Duration.ofMillis(200)).build());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n");
        for (int i = 0; i < 4; i++) {
            c.send("y".repeat(1000));
            Thread.sleep(100); // 10 kB/s over 400 ms, past the 200 ms grace: ten times the minimum
        }
        Response r = c.response();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith(" 4000");
    }

    @Test
    void anInterimHeadDoesNotCancelTheResponseTimeout() throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ofMillis(200)).build());
        Raw c = raw(h).send("GET /early-hints HTTP/1.1\r\nHost: a\r\n\r\n");
        Response hints = c.response();
        assertThat(hints.status()).isEqualTo(103);
        assertThat(c.response().status()).isEqualTo(504);
    }

    // ------------------------------------------------------------------ framing

    static Stream<Arguments> refusedRequests() {
        StringBuilder manyHeaders = new StringBuilder("GET /x HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < 100; i++) {
            manyHeaders.append("X-H").append(i).append(": v\r\n");
        }
        return Stream.of(
                Arguments.of("unknown transfer coding", 501, "POST /x HTTP/1.1\r\nHost: a\r\n"
                        + "Transfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                Arguments.of("more header fields than maxHeaderCount", 431, manyHeaders + "\r\n"),
                Arguments.of("request line too long", 414, "GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedRequests")
    void refusedRequestsGetTheirStatusAndAreNeverForwarded(String name, int status, String request) throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send(request);
        assertThat(c.response().status()).isEqualTo(status);
        assertThat(c.closedByPeer()).isTrue();
        Await.until("close reason", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(h.backend.seen).isEmpty();
    }

    @Test
    void oneHundredHeaderFieldsAreStillAccepted() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        StringBuilder req = new StringBuilder("GET /x HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < 99; i++) {
            req.append("X-H").append(i).append(": v\r\n");
        }
        assertThat(raw(h).send(req + "\r\n").response().status()).isEqualTo(200);
    }

    @Test
    void anUnderscoredForwardedHeaderNeverReachesTheBackend() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send("GET /x HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded_Host: evil\r\n"
                + "FORWARDED: for=6.6.6.6\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(200);
        HttpHarness.Seen seen = h.backend.seen.get(0);
        assertThat(seen.headers().names()).noneMatch(n -> n.contains("_") || n.equalsIgnoreCase("forwarded"));
        assertThat(seen.headers().getAll("x-forwarded-for")).containsExactly("127.0.0.1");
    }

    static Stream<Arguments> brokenBackends() {
        return Stream.of(
                Arguments.of("Transfer-Encoding identity with Content-Length", "GET /te-identity HTTP/1.1\r\nHost: a\r\n\r\n"),
                Arguments.of("status 2000", "GET /status2000 HTTP/1.1\r\nHost: a\r\n\r\n"),
                Arguments.of("101 without Sec-WebSocket-Accept", "GET /ws-noaccept HTTP/1.1\r\nHost: a\r\n"
                        + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenBackends")
    void aBackendThatBreaksFramingGets502(String name, String request) throws Exception {
        HttpHarness h = harness(HttpSettings.builder().responseTimeout(Duration.ofSeconds(30)).build());
        Raw c = raw(h).send(request);
        assertThat(c.response().status()).isEqualTo(502);
        // The connection stays usable; the broken backend connection is not.
        c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().body()).isEqualTo("hello /after");
    }

    @Test
    void requestTrailersAreNotForwarded() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\nX-Client-Subject: CN=admin\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n");
        Response r = c.response();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith(" 5");
        assertThat(h.backend.trailers).isEmpty();
    }

    @Test
    void aBackendConnectionIsNotReusedAfterHead() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Raw c = raw(h).send("HEAD /head-body HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.line()).isEqualTo("HTTP/1.1 200 OK");
        // HEAD: the status line and headers only; the stray "hello" must not poison the next response
        String l;
        while (!(l = c.line()).isEmpty()) {
            assertThat(l).doesNotContain("hello");
        }
        c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        Response next = c.response();
        assertThat(next.status()).isEqualTo(200);
        assertThat(next.body()).isEqualTo("hello /next");
        assertThat(h.backend.accepted.get()).isEqualTo(2);
    }

    @Test
    void webSocketAcceptIsComputedAsRfc6455Says() {
        assertThat(Exchange.webSocketAccept("dGhlIHNhbXBsZSBub25jZQ==")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(Exchange.webSocketAccept(null)).isNull();
    }

    // ------------------------------------------------------------------ paths

    static Stream<Arguments> blockedSpellings() {
        return Stream.of("/%62locked/x", "//blocked/x", "/./blocked/x", "/api/../blocked/x", "/.%2e/blocked/x",
                "/%2e/blocked/x", "/x/%2E%2E/blocked/x").map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("blockedSpellings")
    void everySpellingOfABlockedPathIsBlocked(String path) throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Response r = raw(h).send("GET " + path + "?q=1 HTTP/1.1\r\nHost: a\r\n\r\n").response();
        assertThat(r.status()).isEqualTo(403);
        assertThat(h.routed).containsExactly("a /blocked/x");
        assertThat(h.backend.seen).isEmpty();
    }

    @Test
    void anEncodedSlashIsRefusedByDefaultAndDecodedWhenAsked() throws Exception {
        HttpHarness strict = harness(HttpSettings.defaults());
        Raw c = raw(strict).send("GET /blocked%2fx HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(c.response().status()).isEqualTo(400);
        assertThat(strict.routed).isEmpty();

        HttpHarness decoding = harness(HttpSettings.builder().encodedSlashes(HttpSettings.EncodedSlashes.DECODE).build());
        assertThat(raw(decoding).send("GET /x/..%2Fblocked/y HTTP/1.1\r\nHost: a\r\n\r\n").response().status())
                .isEqualTo(403);
    }

    @Test
    void theBackendGetsTheNormalisedPathWithTheQueryUntouched() throws Exception {
        HttpHarness h = harness(HttpSettings.defaults());
        Response r = raw(h).send("GET /a/./b/../%63//d?x=%2e./&y=1 HTTP/1.1\r\nHost: a\r\n\r\n").response();
        assertThat(r.status()).isEqualTo(200);
        assertThat(h.backend.seen.get(0).uri()).isEqualTo("/a/c/d?x=%2e./&y=1");
    }
}
