package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.route.ProxyProtocol;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backend connection pool through the real proxy: one backend connection serves consecutive
 * client connections on one I/O thread (observed at the backend), and is never shared after
 * {@code Connection: close}, a FIN, an upgrade request, or on a route that sends a PROXY header;
 * idle eviction, the per-backend bound, and the backend closing a pooled connection just as a
 * request is written to it.
 */
class BackendPoolTest {
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private final Proxies.Recorder events = new Proxies.Recorder();

    /** A proxy with one I/O thread (so every client connection shares one pool) on plain-HTTP port 80. */
    private SmartProxy proxy(Backend backend, HttpSettings http) {
        return closer.keep(Proxies.start(SmartProxy.builder().ioThreads(1).http(http).listener(events)
                .route(Route.named("web").match(m -> m.ports(80).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).http())), 80));
    }

    private SmartProxy proxy(Backend backend) {
        return proxy(backend, HttpSettings.defaults());
    }

    private static BackendMetrics metrics(SmartProxy proxy, Backend backend) {
        return proxy.metrics().byBackend().get("127.0.0.1:" + backend.port());
    }

    /** One client connection: {@code request} (without Host), its response, then the client closes; waits for the proxy to see it. */
    private static Response call(SmartProxy proxy, String method, String path, String extraHeaders, String body)
            throws IOException {
        Response r;
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Proxies.port(proxy, 80))) {
            r = exchange(s, method, path, extraHeaders, body);
        }
        Proxies.awaitIdle(proxy);
        return r;
    }

    private static Response exchange(Socket s, String method, String path, String extraHeaders, String body)
            throws IOException {
        s.setSoTimeout(10_000);
        String req = method + " " + path + " HTTP/1.1\r\nHost: a.test\r\n" + extraHeaders
                + (body == null ? "" : "Content-Length: " + body.length() + "\r\n") + "\r\n" + (body == null ? "" : body);
        s.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        return Response.read(s.getInputStream());
    }

    @Test
    void oneBackendConnectionServesConsecutiveClientConnections() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response first = call(proxy, "GET", "/ok", "Connection: close\r\n", null);
        Response second = call(proxy, "GET", "/ok", "", null);
        Response third = call(proxy, "POST", "/ok", "", "a body");
        assertThat(List.of(first.status, second.status, third.status)).containsOnly(200);
        assertThat(second.conn).isEqualTo(first.conn);
        assertThat(third.conn).isEqualTo(first.conn);
        assertThat(backend.accepted.get()).isEqualTo(1);
        assertThat(backend.requests).containsExactly(first.conn + " GET /ok", first.conn + " GET /ok",
                first.conn + " POST /ok a body");
        BackendMetrics m = metrics(proxy, backend);
        assertThat(m.connects()).isEqualTo(1);
        assertThat(m.open()).isEqualTo(1); // the pooled connection is open, and counted once
        // The bytes of each response count for the client connection that used the pooled connection, once.
        long responseBytes = ("HTTP/1.1 200 OK\r\nX-Conn: c1\r\nContent-Length: 7\r\n\r\nconn=c1").length();
        assertThat(events.awaitClosed(3)).extracting(c -> c.bytesFromBackend())
                .containsExactly(responseBytes, responseBytes, responseBytes);
        proxy.close();
        Await.until("the pooled connection closed with the proxy", () -> backend.closed.size() == 1);
    }

    @Test
    void aTerminatedRouteSharesItsBackendConnectionToo() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().ioThreads(1)
                .certificate(TestPki.certificate("a.test"))
                .route(Route.named("tls").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE))), 443));
        String[] conns = new String[2];
        for (int i = 0; i < 2; i++) {
            try (Socket s = TlsClients.connect(Proxies.port(proxy, 443), "a.test")) {
                Response r = exchange(s, "GET", "/ok", "Connection: close\r\n", null);
                assertThat(r.status).isEqualTo(200);
                conns[i] = r.conn;
            }
            Proxies.awaitIdle(proxy);
        }
        assertThat(conns[1]).isEqualTo(conns[0]);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(1);
    }

    @Test
    void aConnectionTheBackendAskedToCloseIsNeverShared() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response first = call(proxy, "GET", "/close-header", "", null); // the backend keeps its socket open
        Response second = call(proxy, "GET", "/ok", "", null);
        assertThat(second.conn).isNotEqualTo(first.conn);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(2);
    }

    @Test
    void aConnectionThatCarriedAnUpgradeRequestIsNeverShared() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response refused = call(proxy, "GET", "/ok", "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", null);
        assertThat(refused.status).isEqualTo(200); // the backend did not switch
        Response next = call(proxy, "GET", "/ok", "", null);
        assertThat(next.conn).isNotEqualTo(refused.conn);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(2);
    }

    @Test
    void aConnectionThatCarriedConnectionBoundAuthenticationStaysWithItsClient() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        int port = Proxies.port(proxy, 80);
        String ntlm;
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            ntlm = exchange(s, "GET", "/ok", "Authorization: NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=\r\n", null).conn;
            assertThat(exchange(s, "GET", "/ok", "", null).conn).as("its own client keeps it").isEqualTo(ntlm);
        }
        Proxies.awaitIdle(proxy);
        String negotiated = call(proxy, "GET", "/negotiate", "", null).conn; // the backend answers WWW-Authenticate: Negotiate
        assertThat(negotiated).isNotEqualTo(ntlm);
        assertThat(call(proxy, "GET", "/ok", "", null).conn).isNotIn(ntlm, negotiated);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(3);
    }

    @Test
    void aConnectionTheBackendClosedWhileIdleIsDroppedAndNeverHandedOut() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response first = call(proxy, "GET", "/fin-later", "", null);
        backend.finNow.countDown(); // the connection is back in the pool: the backend closes it now
        Await.until("the proxy saw the backend's FIN", () -> metrics(proxy, backend).open() == 0);
        // A request with a body is never retried: had the closed connection been handed out, this would be a 502.
        Response second = call(proxy, "POST", "/ok", "", "payload");
        assertThat(second.status).isEqualTo(200);
        assertThat(second.conn).isNotEqualTo(first.conn);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(2);
    }

    @Test
    void aRouteThatSendsAProxyHeaderNeverSharesItsConnections() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().ioThreads(1)
                .route(Route.named("pp").match(m -> m.ports(80).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).http()
                                .sendProxyProtocol(ProxyProtocol.V1))), 80));
        Response first = call(proxy, "GET", "/ok", "", null);
        Response second = call(proxy, "GET", "/ok", "", null);
        assertThat(List.of(first.status, second.status)).containsOnly(200);
        assertThat(second.conn).isNotEqualTo(first.conn);
        assertThat(backend.proxyHeaders).hasSize(2).allSatisfy(h -> assertThat(h).startsWith("PROXY TCP4 127.0.0.1 "));
        Await.until("each client's backend connection closed with it", () -> backend.closed.size() == 2);
        assertThat(metrics(proxy, backend).open()).isZero();
    }

    @Test
    void idleConnectionsAreClosedAfterTheIdleTimeout() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend, HttpSettings.builder().backendIdleTimeout(Duration.ofMillis(300)).build());
        long start = System.nanoTime();
        Response first = call(proxy, "GET", "/ok", "", null);
        Await.until("the idle connection evicted", () -> backend.closed.contains(first.conn));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        assertThat(metrics(proxy, backend).open()).isZero();
        Response second = call(proxy, "GET", "/ok", "", null);
        assertThat(second.conn).isNotEqualTo(first.conn);
    }

    @Test
    void theLongerIdleTimeoutKeepsTheConnection() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend, HttpSettings.builder().backendIdleTimeout(Duration.ofSeconds(30)).build());
        Response first = call(proxy, "GET", "/ok", "", null);
        Thread.sleep(400); // real idle time, longer than the 300 ms that evicts in the test above
        Response second = call(proxy, "GET", "/ok", "", null);
        assertThat(second.conn).isEqualTo(first.conn);
        assertThat(backend.closed).isEmpty();
    }

    @Test
    void thePoolKeepsAtMostItsSizePerBackend() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend, HttpSettings.builder().backendPoolSize(1).build());
        int port = Proxies.port(proxy, 80);
        String a;
        String b;
        try (Socket s1 = new Socket(InetAddress.getLoopbackAddress(), port);
             Socket s2 = new Socket(InetAddress.getLoopbackAddress(), port)) {
            a = exchange(s1, "GET", "/ok", "", null).conn; // both open: two backend connections
            b = exchange(s2, "GET", "/ok", "", null).conn;
        }
        Proxies.awaitIdle(proxy);
        assertThat(a).isNotEqualTo(b);
        Await.until("one of the two closed, one kept", () -> backend.closed.size() == 1);
        assertThat(metrics(proxy, backend).open()).isEqualTo(1);
        String kept = backend.closed.contains(a) ? b : a;
        assertThat(call(proxy, "GET", "/ok", "", null).conn).isEqualTo(kept);
        assertThat(metrics(proxy, backend).connects()).isEqualTo(2);
    }

    @Test
    void aZeroPoolSizeKeepsEachBackendConnectionToItsClient() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend, HttpSettings.builder().backendPoolSize(0).build());
        Response first = call(proxy, "GET", "/ok", "", null);
        Await.until("the backend connection closed with its client", () -> backend.closed.contains(first.conn));
        assertThat(call(proxy, "GET", "/ok", "", null).conn).isNotEqualTo(first.conn);
    }

    @Test
    void anIdempotentRequestIsRetriedOnceWhenThePooledConnectionClosesUnderIt() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response first = call(proxy, "GET", "/drop-next", "", null);
        // The pooled connection is still open; the backend closes it on reading the next request.
        Response second = call(proxy, "GET", "/ok", "", null);
        assertThat(second.status).isEqualTo(200);
        assertThat(second.conn).isNotEqualTo(first.conn);
        assertThat(backend.requests).containsExactly(first.conn + " GET /drop-next", first.conn + " GET /ok (dropped)",
                second.conn + " GET /ok");
        assertThat(metrics(proxy, backend).connects()).isEqualTo(2);
        assertThat(proxy.metrics().httpByRoute().get("web").total()).isEqualTo(2);
    }

    @Test
    void aRequestWithABodyIsNotRetriedAndGetsA502() throws Exception {
        Backend backend = closer.keep(new Backend());
        SmartProxy proxy = proxy(backend);
        Response first = call(proxy, "GET", "/drop-next", "", null);
        Response second = call(proxy, "POST", "/ok", "", "once only");
        assertThat(second.status).isEqualTo(502);
        assertThat(backend.requests).containsExactly(first.conn + " GET /drop-next",
                first.conn + " POST /ok (dropped)");
        assertThat(metrics(proxy, backend).connects()).isEqualTo(1);
    }

    /** A status, the backend connection that answered ({@code X-Conn}) and the body. */
    record Response(int status, String conn, String body) {
        static Response read(InputStream in) throws IOException {
            String statusLine = line(in);
            int status = Integer.parseInt(statusLine.split(" ")[1]);
            String conn = null;
            int length = 0;
            String l;
            while (!(l = line(in)).isEmpty()) {
                String lower = l.toLowerCase(Locale.ROOT);
                if (lower.startsWith("x-conn:")) {
                    conn = l.substring(7).trim();
                } else if (lower.startsWith("content-length:")) {
                    length = Integer.parseInt(l.substring(15).trim());
                }
            }
            byte[] body = in.readNBytes(length);
            return new Response(status, conn, new String(body, StandardCharsets.ISO_8859_1));
        }

        static String line(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                if (c != '\r') {
                    b.write(c);
                }
            }
            if (c == -1 && b.size() == 0) {
                throw new IOException("closed");
            }
            return b.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * A keep-alive HTTP/1.1 backend, a thread per connection, that names its connection in
     * {@code X-Conn}. Paths: {@code /ok}; {@code /close-header} answers {@code Connection: close}
     * but keeps its socket open; {@code /fin-later} closes the connection after answering, once the test counts {@code finNow} down;
     * {@code /drop-next} answers, then closes the connection on reading its next request.
     * A leading PROXY v1 line is recorded.
     */
    static final class Backend implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final AtomicInteger accepted = new AtomicInteger();
        final List<String> requests = new CopyOnWriteArrayList<>();
        final List<String> closed = new CopyOnWriteArrayList<>();
        final List<String> proxyHeaders = new CopyOnWriteArrayList<>();
        /** Releases the {@code /fin-later} connection's close. */
        final java.util.concurrent.CountDownLatch finNow = new java.util.concurrent.CountDownLatch(1);
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        Backend() throws IOException {
            Thread t = new Thread(this::accept, "pool-test-backend");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            try {
                while (true) {
                    Socket s = server.accept();
                    sockets.add(s);
                    String id = "c" + accepted.incrementAndGet();
                    Thread t = new Thread(() -> serve(s, id), "pool-test-backend-" + id);
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException closedServer) {
                // done
            }
        }

        private void serve(Socket s, String id) {
            boolean dropNext = false;
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                while (true) {
                    String requestLine;
                    try {
                        requestLine = Response.line(in);
                    } catch (IOException eof) {
                        return;
                    }
                    if (requestLine.startsWith("PROXY ")) {
                        proxyHeaders.add(requestLine);
                        continue;
                    }
                    String[] parts = requestLine.split(" ");
                    int length = 0;
                    String l;
                    while (!(l = Response.line(in)).isEmpty()) {
                        if (l.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                            length = Integer.parseInt(l.substring(15).trim());
                        }
                    }
                    String body = length > 0 ? " " + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1) : "";
                    if (dropNext) {
                        requests.add(id + " " + parts[0] + " " + parts[1] + " (dropped)");
                        return;
                    }
                    requests.add(id + " " + parts[0] + " " + parts[1] + body);
                    String path = parts[1];
                    String text = "conn=" + id;
                    String head = "HTTP/1.1 200 OK\r\nX-Conn: " + id + "\r\nContent-Length: " + text.length() + "\r\n"
                            + (path.equals("/close-header") ? "Connection: close\r\n" : "")
                            + (path.equals("/negotiate") ? "WWW-Authenticate: Negotiate\r\n" : "") + "\r\n";
                    out.write((head + text).getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                    if (path.equals("/fin-later")) {
                        // The FIN must come while the connection waits in the pool: after the client has the response.
                        finNow.await(5, java.util.concurrent.TimeUnit.SECONDS);
                        return;
                    }
                    if (path.equals("/close-header")) {
                        // The socket stays open until the proxy closes its end: the header alone must stop reuse.
                        s.setSoTimeout(5_000);
                        try {
                            while (in.read() != -1) {
                                // discard: nothing more is expected
                            }
                        } catch (java.net.SocketTimeoutException stillOpen) {
                            requests.add(id + " proxy kept a Connection: close backend connection open");
                        }
                        return;
                    }
                    dropNext = path.equals("/drop-next");
                }
            } catch (IOException | InterruptedException e) {
                // the connection ends
            } finally {
                closed.add(id);
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
