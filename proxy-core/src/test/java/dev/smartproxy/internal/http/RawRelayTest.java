package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Responses relayed as bytes ({@link RawRelay}) over real loopback sockets, against a backend
 * that writes exactly the bytes each test scripts: what the client gets, byte for byte, where
 * each exchange ends, and which responses still go through the decoder. A head relayed raw keeps
 * the backend's spelling ({@code x-a:1}); one that was decoded and encoded again reads
 * {@code x-a: 1}: that is how these tests tell the two paths apart.
 */
class RawRelayTest {
    private static final String OK_HEAD = "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 5\r\n\r\n";
    private final List<AutoCloseable> resources = new ArrayList<>();
    private HttpHarness h;
    private Scripted backend;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private void start() throws Exception {
        h = new HttpHarness(HttpSettings.defaults());
        resources.add(h);
        backend = new Scripted();
        resources.add(backend);
        h.scriptedPort = backend.port();
        backend.script("/s/ok", c -> c.send(OK_HEAD + "hello"));
    }

    private HttpHarness.Raw client() throws IOException {
        HttpHarness.Raw r = new HttpHarness.Raw(h.port());
        resources.add(r);
        return r;
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n";
    }

    private static String read(HttpHarness.Raw c, int n) throws IOException {
        return new String(c.in.readNBytes(n), StandardCharsets.ISO_8859_1);
    }

    /** Waits for the one connection to close, and checks the reason it recorded. */
    private void closedWith(CloseReason reason) {
        Await.until("closed", () -> h.onlyConnection().closeReason() != null);
        assertThat(h.onlyConnection().closeReason()).isEqualTo(reason);
    }

    /** Scripts the backend to send {@code first}, then {@code second} once the returned latch is counted down. */
    private CountDownLatch inTwoParts(String path, String first, String second) {
        CountDownLatch more = new CountDownLatch(1);
        backend.script(path, c -> {
            c.send(first);
            more.await();
            c.send(second);
        });
        return more;
    }

    private static void expect(HttpHarness.Raw c, String exactly) throws IOException {
        assertThat(read(c, exactly.length())).isEqualTo(exactly);
    }

    /** The status line and header lines of the next response, as they came. */
    private static List<String> headLines(HttpHarness.Raw c) throws IOException {
        List<String> lines = new ArrayList<>();
        String l;
        while ((l = c.line()) != null && !l.isEmpty()) {
            lines.add(l);
        }
        return lines;
    }

    // ------------------------------------------------------------------ relayed as bytes

    @Test
    void aCommonResponseGoesAsItCameWithoutItsHopByHopLinesAndTheExchangeEndsWithIt() throws Exception {
        start();
        backend.script("/s/hop", c -> c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nConnection: keep-alive\r\n"
                + "Keep-Alive: timeout=5\r\nContent-Length: 5\r\nX-End:  2 \r\n\r\nhello"));
        HttpHarness.Raw c = client();
        for (int i = 0; i < 3; i++) {
            c.send(get("/s/hop"));
            expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 5\r\nX-End:  2 \r\n\r\nhello");
        }
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
        assertThat(backend.accepted.get()).as("one backend connection, kept alive").isEqualTo(1);
        assertThat(h.onlyConnection().closeReason()).isNull();
    }

    @Test
    void aClientThatClosesGetsConnectionCloseAndIsClosedAfterTheResponse() throws Exception {
        start();
        HttpHarness.Raw c = client().send("GET /s/ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 5\r\nconnection: close\r\n\r\nhello");
        assertThat(c.closedByPeer()).isTrue();
        closedWith(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aBackendThatClosesIsNotReusedButTheClientStays() throws Exception {
        start();
        backend.script("/s/bye", c -> {
            c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
            c.close();
        });
        HttpHarness.Raw c = client().send(get("/s/bye"));
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 2\r\n\r\nok");
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
        assertThat(backend.accepted.get()).isEqualTo(2);
    }

    @Test
    void aLargeBodyIsCountedOffItsLengthReadByRead() throws Exception {
        start();
        byte[] body = pattern(4 << 20);
        backend.script("/s/big", c -> {
            c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: " + body.length + "\r\n\r\n");
            for (int i = 0; i < body.length; i += 16384) {
                c.out.write(body, i, Math.min(16384, body.length - i));
                c.out.flush();
            }
        });
        HttpHarness.Raw c = client().send(get("/s/big"));
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: " + body.length + "\r\n\r\n");
        assertThat(Arrays.equals(c.in.readNBytes(body.length), body)).isTrue();
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
        assertThat(backend.accepted.get()).isEqualTo(1);
    }

    @Test
    void aChunkedBodyGoesAsItCameExtensionsIncluded() throws Exception {
        start();
        String response = "HTTP/1.1 200 OK\r\nTransfer-Encoding:chunked\r\n\r\n5;a=b\r\nhello\r\n1 ;x\r\n!\r\n"
                + "A\r\n0123456789\r\n0\r\n\r\n";
        backend.script("/s/chunked", c -> c.send(response));
        HttpHarness.Raw c = client().send(get("/s/chunked"));
        expect(c, response);
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
        assertThat(backend.accepted.get()).isEqualTo(1);
    }

    @Test
    void aLargeChunkedBodyIsFramedReadByRead() throws Exception {
        start();
        byte[] body = pattern(1 << 20);
        StringBuilder wire = new StringBuilder("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < body.length; i += 3000) {
            int n = Math.min(3000, body.length - i);
            wire.append(Integer.toHexString(n)).append("\r\n")
                    .append(new String(body, i, n, StandardCharsets.ISO_8859_1)).append("\r\n");
        }
        wire.append("0\r\n\r\n");
        byte[] bytes = wire.toString().getBytes(StandardCharsets.ISO_8859_1);
        backend.script("/s/chunks", c -> {
            for (int i = 0; i < bytes.length; i += 1000) { // the framing cut at every place
                c.out.write(bytes, i, Math.min(1000, bytes.length - i));
                c.out.flush();
            }
        });
        HttpHarness.Raw c = client().send(get("/s/chunks"));
        assertThat(Arrays.equals(c.in.readNBytes(bytes.length), bytes)).isTrue();
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void trailersLoseTheFieldsTheDecoderDropsEvenWhenTheyComeInPieces() throws Exception {
        start();
        String head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\n";
        CountDownLatch more = inTwoParts("/s/trailers", head + "X-T:1\r\nContent-Length: 9\r\n",
                "trailer: x\r\nX-U: 2\r\n\r\n");
        HttpHarness.Raw c = client().send(get("/s/trailers"));
        expect(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n");
        Await.until("the first trailer lines read", () -> h.onlyConnection().bytesFromBackend()
                == head.length() + "X-T:1\r\nContent-Length: 9\r\n".length());
        more.countDown();
        expect(c, "X-T:1\r\nX-U: 2\r\n\r\n");
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void aChunkSizeWithLeadingZerosInALaterReadIsRelayedAsTheDecoderWouldTakeIt() throws Exception {
        start();
        String head = "HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n";
        CountDownLatch more = inTwoParts("/s/zeros", head, "0000000000005\r\nhello\r\n0\r\n\r\n");
        HttpHarness.Raw c = client().send(get("/s/zeros"));
        expect(c, head);
        Await.until("the head read", () -> h.onlyConnection().bytesFromBackend() == head.length());
        more.countDown();
        expect(c, "0000000000005\r\nhello\r\n0\r\n\r\n");
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void aBackendThatClosesInsideItsTrailersLeavesNoBufferBehind() throws Exception {
        // The trailer lines are gathered in a buffer of their own until the section ends; a backend
        // that closes before that must not leak it (the class's leak check fails if it does).
        start();
        String sent = "HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n";
        backend.script("/s/trailer-cut", c -> {
            c.send(sent);
            c.close();
        });
        HttpHarness.Raw c = client().send(get("/s/trailer-cut"));
        assertThat(c.in.readAllBytes()).asString(StandardCharsets.ISO_8859_1)
                .isEqualTo("HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n");
        Await.until("closed", () -> h.onlyConnection().closeReason() != null);
    }

    @Test
    void aChunkedBodyBrokenLaterClosesTheClientAsABackendProtocolError() throws Exception {
        start();
        CountDownLatch more = inTwoParts("/s/broken-later",
                "HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "5\r\nhelloXX");
        HttpHarness.Raw c = client().send(get("/s/broken-later"));
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        more.countDown();
        assertThat(c.in.readAllBytes()).asString(StandardCharsets.ISO_8859_1).isEqualTo("5\r\nhello");
        closedWith(CloseReason.BACKEND_PROTOCOL_ERROR);
    }

    @Test
    void aBodyTheClientDoesNotReadPausesTheBackendAndLosesNothing() throws Exception {
        start();
        long size = 32L << 20;
        long[] sent = new long[1];
        CountDownLatch stalled = new CountDownLatch(1);
        backend.script("/s/flood", c -> {
            c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: " + size + "\r\n\r\n");
            sent[0] = c.writeUntilStalled(size);
            stalled.countDown();
            c.writeRest(size - sent[0]);
        });
        HttpHarness.Raw c = client().send(get("/s/flood"));
        assertThat(stalled.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(sent[0]).as("body bytes the backend got out before the proxy stopped reading").isLessThan(size);
        assertThat(h.clientPendingOutbound()).as("bytes the proxy holds for the client").isLessThan(1 << 20);
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: " + size + "\r\n\r\n");
        byte[] expected = pattern(65536);
        for (long got = 0; got < size; got += 65536) {
            assertThat(Arrays.equals(c.in.readNBytes(65536), expected)).isTrue();
        }
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void aClientThatGoesAwayMidBodyTakesTheBackendConnectionWithIt() throws Exception {
        start();
        CountDownLatch backendClosed = new CountDownLatch(1);
        backend.script("/s/long", c -> {
            c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 1000000\r\n\r\n" + "x".repeat(1000));
            if (c.ch.socket().getInputStream().read() == -1) { // the proxy sends nothing more: it closed
                backendClosed.countDown();
            }
        });
        HttpHarness.Raw c = client().send(get("/s/long"));
        expect(c, "HTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 1000000\r\n\r\n" + "x".repeat(1000));
        c.socket.setSoLinger(true, 0); // a reset: gone, not half-closed (a FIN lets the response go on)
        c.close();
        assertThat(backendClosed.await(10, TimeUnit.SECONDS)).isTrue();
        closedWith(CloseReason.CLIENT_RESET);
    }

    // ------------------------------------------------------------------ decoded, as before

    @ParameterizedTest
    @ValueSource(strings = {
            "HTTP/1.0 200 OK\r\nx-a:1\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 204 No Content\r\nx-a:1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nx-a:1\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nx-a:1\r\nWWW-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nx-a:1\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nx-a :1\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nx-a:1\r\nTE: a\r\nTE: b\r\nTE: c\r\nTE: d\r\nTE: e\r\nContent-Length: 2\r\n\r\nok",
    })
    void anUnusualResponseIsDecodedAndEncodedAsBefore(String response) throws Exception {
        start();
        backend.script("/s/odd", c -> c.send(response));
        HttpHarness.Raw c = client().send(get("/s/odd"));
        List<String> head = headLines(c);
        if (head.get(0).startsWith("HTTP/1.1 103")) {
            assertThat(head).contains("Link: </a.css>");
            head = headLines(c);
        }
        assertThat(head.get(0)).startsWith("HTTP/1.1 2");
        assertThat(head).contains("x-a: 1").noneMatch(l -> l.startsWith("X-Hop") || l.startsWith("TE"));
        if (!head.get(0).startsWith("HTTP/1.1 204")) {
            expect(c, "ok");
        }
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void aBodyDelimitedByTheBackendsCloseIsDecodedAndReframed() throws Exception {
        start();
        backend.script("/s/eof", c -> {
            c.send("HTTP/1.1 200 OK\r\nx-a:1\r\n\r\nuntil the end");
            c.close();
        });
        HttpHarness.Raw c = client().send(get("/s/eof"));
        HttpHarness.Response r = c.response();
        assertThat(r.header("x-a")).isEqualTo("1");
        assertThat(r.header("transfer-encoding")).isEqualTo("chunked");
        assertThat(r.body()).isEqualTo("until the end");
    }

    @Test
    void aHeadRequestAndAnHttp10ClientAreDecodedAsBefore() throws Exception {
        start();
        HttpHarness.Raw c = client().send("HEAD /s/ok HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(headLines(c)).contains("HTTP/1.1 200 OK", "x-a: 1");
        HttpHarness.Raw old = client().send("GET /s/ok HTTP/1.0\r\nHost: a\r\n\r\n");
        assertThat(headLines(old)).contains("HTTP/1.1 200 OK", "x-a: 1", "connection: close");
        expect(old, "hello");
        assertThat(old.closedByPeer()).isTrue();
    }

    @Test
    void aHeadSplitAcrossReadsIsDecodedAsBefore() throws Exception {
        start();
        String first = "HTTP/1.1 200 OK\r\nx-a:1\r\n";
        CountDownLatch more = inTwoParts("/s/split", first, "Content-Length: 2\r\n\r\nok");
        HttpHarness.Raw c = client().send(get("/s/split"));
        Await.until("the first part read", () -> h.conns.size() == 1
                && h.onlyConnection().bytesFromBackend() == first.length());
        more.countDown();
        assertThat(headLines(c)).contains("HTTP/1.1 200 OK", "x-a: 1");
        expect(c, "ok");
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
    }

    @Test
    void aChunkedBodyBrokenInItsFirstReadIsDecodedAndRefusedAsBefore() throws Exception {
        start();
        backend.script("/s/broken", c -> c.send("HTTP/1.1 200 OK\r\nx-a:1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
        HttpHarness.Raw c = client().send(get("/s/broken"));
        assertThat(headLines(c)).contains("HTTP/1.1 200 OK", "x-a: 1");
        assertThat(c.closedByPeer()).isTrue();
        closedWith(CloseReason.BACKEND_PROTOCOL_ERROR);
    }

    /** Every refusal of the decoder still happens: 502, and the backend connection is not used again. */
    @ParameterizedTest
    @ValueSource(strings = {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nok",
            "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nx-a: 1\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nx-a: \u00011\r\nContent-Length: 2\r\n\r\nok",
            "BIG",
    })
    void whatTheDecoderRefusesIsStillRefused(String response) throws Exception {
        start();
        String bytes = response.equals("BIG")
                ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: " + "b".repeat(70_000) + "\r\n\r\nok" : response;
        backend.script("/s/bad", c -> c.send(bytes));
        HttpHarness.Raw c = client().send(get("/s/bad"));
        assertThat(c.line()).isEqualTo("HTTP/1.1 502 Bad Gateway");
        headLines(c);
        expect(c, "502 Bad Gateway\n");
        c.send(get("/s/ok"));
        expect(c, OK_HEAD + "hello");
        assertThat(backend.accepted.get()).as("the refused response's connection is not reused").isEqualTo(2);
    }

    private static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + (i >>> 16));
        }
        return b;
    }

    // ------------------------------------------------------------------ the scripted backend

    /** What a scripted backend does with one request. */
    interface Script {
        void answer(Conn c) throws Exception;
    }

    /** One backend connection, to script. */
    static final class Conn {
        final SocketChannel ch;
        final OutputStream out;

        Conn(SocketChannel ch) throws IOException {
            this.ch = ch;
            this.out = ch.socket().getOutputStream();
        }

        void send(String bytes) throws IOException {
            out.write(bytes.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        void close() throws IOException {
            ch.close();
        }

        /**
         * Writes the {@link #pattern} of 64 KiB over and over until {@code max} bytes went out or a
         * write stayed blocked for a second (the proxy stopped reading); returns the bytes written.
         */
        long writeUntilStalled(long max) throws IOException {
            ch.configureBlocking(false);
            ByteBuffer unit = ByteBuffer.wrap(pattern(65536));
            long sent = 0;
            try (Selector sel = Selector.open()) {
                ch.register(sel, SelectionKey.OP_WRITE);
                while (sent < max) {
                    if (!unit.hasRemaining()) {
                        unit.rewind();
                    }
                    int n = ch.write(unit);
                    sent += n;
                    if (n == 0) {
                        sel.selectedKeys().clear();
                        if (sel.select(1000) == 0) {
                            break;
                        }
                    }
                }
            }
            ch.configureBlocking(true);
            // what is left of the current unit, then whole units
            position = (int) (sent % 65536);
            return sent;
        }

        private int position;

        void writeRest(long left) throws IOException {
            byte[] unit = pattern(65536);
            int pos = position;
            while (left > 0) {
                int n = (int) Math.min(left, 65536 - pos);
                out.write(unit, pos, n);
                left -= n;
                pos = (pos + n) % 65536;
            }
            out.flush();
        }
    }

    /** A backend that answers each request head with the script for its path (bodies are not read). */
    static final class Scripted implements AutoCloseable {
        final ServerSocketChannel server;
        final AtomicInteger accepted = new AtomicInteger();
        private final Map<String, Script> scripts = new ConcurrentHashMap<>();
        private final List<SocketChannel> open = new java.util.concurrent.CopyOnWriteArrayList<>();

        Scripted() throws IOException {
            server = ServerSocketChannel.open();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread t = new Thread(this::accept, "scripted-backend");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.socket().getLocalPort();
        }

        void script(String path, Script s) {
            scripts.put(path, s);
        }

        private void accept() {
            try {
                while (true) {
                    SocketChannel ch = server.accept();
                    accepted.incrementAndGet();
                    open.add(ch);
                    Thread t = new Thread(() -> serve(ch), "scripted-connection");
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException closed) {
                // the test is over
            }
        }

        private void serve(SocketChannel ch) {
            try (ch) {
                Conn c = new Conn(ch);
                InputStream in = new java.io.BufferedInputStream(ch.socket().getInputStream());
                while (true) {
                    String requestLine = lineOf(in);
                    if (requestLine == null) {
                        return;
                    }
                    String l;
                    while ((l = lineOf(in)) != null && !l.isEmpty()) {
                        // headers
                    }
                    Script s = scripts.get(requestLine.split(" ")[1]);
                    if (s == null || !ch.isOpen()) {
                        return;
                    }
                    s.answer(c);
                    if (!ch.isOpen()) {
                        return;
                    }
                }
            } catch (Exception e) {
                // the proxy closed the connection, or the test is over
            }
        }

        private static String lineOf(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    return b.toString().stripTrailing();
                }
                b.append((char) c);
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (SocketChannel ch : open) {
                ch.close();
            }
        }
    }
}
