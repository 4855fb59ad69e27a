package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Plain TCP routes over real sockets: routing at accept, byte-exact relay, half-close, backpressure, resets. */
class PlainRelayTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private TestServer backend(TestServer.Handler handler) {
        TestServer s = TestServer.plain("backend", handler);
        closer.keep(s);
        return s;
    }

    /** The transport under test; {@link PlainRelayNioTest} runs the same tests on NIO. */
    protected IoTransport transport() {
        return IoTransport.AUTO;
    }

    private int proxyTo(TestServer backend) {
        SmartProxy proxy = Proxies.start(SmartProxy.builder().listener(events).transport(transport())
                .route(Route.named("tcp").match(m -> m.ports(25))
                        .forward(f -> f.target("127.0.0.1", backend.port()))), 25);
        closer.keep(proxy);
        this.proxy = proxy;
        return Proxies.port(proxy, 25);
    }

    private SmartProxy proxy;

    @Test
    void serverSpeaksFirstProtocolIsRoutedAtAccept() throws Exception {
        TestServer smtp = backend(s -> {
            s.getOutputStream().write("220 ready\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            TlsClients.readLine(s.getInputStream());
        });
        try (Socket c = TlsClients.plain(proxyTo(smtp))) {
            // The client sends nothing: the banner can only arrive if the proxy routed at accept.
            assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("220 ready");
            assertThat(proxy.connections()).singleElement()
                    .satisfies(info -> assertThat(info.kind()).contains(ConnectionKind.PLAIN));
            TlsClients.writeLine(c, "QUIT");
        }
        assertThat(events.awaitClosed(1).get(0).closeReason().orElseThrow())
                .isIn(CloseReason.CLIENT_CLOSED, CloseReason.BACKEND_CLOSED);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void sixtyFourMebibytesEachWayAreByteExact() throws Exception {
        long size = 64L << 20;
        TestServer echo = backend(s -> s.getInputStream().transferTo(s.getOutputStream()));
        try (Socket c = TlsClients.plain(proxyTo(echo))) {
            CompletableFuture<byte[]> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return TlsClients.writePattern(c.getOutputStream(), size, 7);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(TlsClients.readDigest(c.getInputStream(), size)).isEqualTo(sent.get(60, TimeUnit.SECONDS));
        }
        ConnectionInfo info = events.awaitClosed(1).get(0);
        assertThat(info.bytesFromClient()).isEqualTo(size);
        assertThat(info.bytesFromBackend()).isEqualTo(size);
    }

    @Test
    void manyConcurrentConnections() throws Exception {
        TestServer echo = backend(s -> s.getInputStream().transferTo(s.getOutputStream()));
        int port = proxyTo(echo);
        int n = 300;
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Future<String>> replies = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String msg = "message " + i;
                replies.add(pool.submit(() -> {
                    try (Socket c = TlsClients.plain(port)) {
                        TlsClients.writeLine(c, msg);
                        return TlsClients.readLine(c.getInputStream());
                    }
                }));
            }
            for (int i = 0; i < n; i++) {
                assertThat(replies.get(i).get(60, TimeUnit.SECONDS)).isEqualTo("message " + i);
            }
        } finally {
            pool.shutdownNow();
        }
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().accepted()).isEqualTo(n);
        assertThat(proxy.stats().closedTotal()).isEqualTo(n);
        assertThat(echo.connections()).isEqualTo(n);
    }

    @Test
    void clientHalfCloseReachesTheBackendWhichCanStillAnswer() throws Exception {
        TestServer counter = backend(s -> {
            // Reads to end of stream (needs the client's FIN), then answers and closes.
            long n = s.getInputStream().transferTo(OutputStream.nullOutputStream());
            s.getOutputStream().write(("got " + n + "\n").getBytes(StandardCharsets.US_ASCII));
        });
        try (Socket c = TlsClients.plain(proxyTo(counter))) {
            c.getOutputStream().write(new byte[100_000]);
            c.shutdownOutput();
            assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("got 100000");
            assertThat(c.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.CLIENT_CLOSED);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void backendHalfCloseReachesTheClientWhichCanStillSend() throws Exception {
        CompletableFuture<String> backendGot = new CompletableFuture<>();
        TestServer pusher = backend(s -> {
            s.getOutputStream().write("bye soon\n".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput(); // FIN towards the client; still reading
            backendGot.complete(TlsClients.readLine(s.getInputStream()));
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        });
        try (Socket c = TlsClients.plain(proxyTo(pusher))) {
            InputStream in = c.getInputStream();
            assertThat(TlsClients.readLine(in)).isEqualTo("bye soon");
            assertThat(in.read()).isEqualTo(-1); // the backend's FIN arrived
            TlsClients.writeLine(c, "still talking");
            assertThat(backendGot.get(10, TimeUnit.SECONDS)).isEqualTo("still talking");
            c.shutdownOutput();
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.BACKEND_CLOSED);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void slowReaderKeepsProxyBuffersBounded() throws Exception {
        long size = 64L << 20;
        AtomicLong backendWritten = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        TestServer firehose = backend(s -> {
            s.setSendBufferSize(64 * 1024);
            byte[] chunk = new byte[16 * 1024];
            OutputStream out = s.getOutputStream();
            for (long sent = 0; sent < size; sent += chunk.length) {
                out.write(chunk);
                backendWritten.addAndGet(chunk.length);
            }
            out.flush();
            done.countDown();
        });
        int port = proxyTo(firehose);
        try (Socket c = new Socket()) {
            c.setReceiveBufferSize(64 * 1024);
            c.connect(new java.net.InetSocketAddress("127.0.0.1", port));
            // The client reads nothing: the backend must be stopped by backpressure long before 64 MiB.
            long stalledAt = Await.settled("the backend's writes", Duration.ofMillis(500), Duration.ofSeconds(20),
                    backendWritten::get);
            assertThat(stalledAt).isLessThan(size / 4);
            ConnectionInfo info = proxy.connections().get(0);
            // What the proxy holds is bounded by its water marks and one read batch, not by the stream.
            assertThat(info.bufferedBytes()).isLessThanOrEqualTo(2L << 20);
            assertThat(done.getCount()).isEqualTo(1);
            // Now read it all: nothing was lost while paused.
            c.setSoTimeout(30_000);
            long[] count = new long[1];
            TlsClients.readDigestToEnd(c.getInputStream(), count);
            assertThat(count[0]).isEqualTo(size);
        }
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void backendResetClosesTheClientAtOnceWithAReset() throws Exception {
        TestServer resetter = backend(s -> {
            TlsClients.readLine(s.getInputStream());
            s.setSoLinger(true, 0); // the close below sends RST
        });
        try (Socket c = TlsClients.plain(proxyTo(resetter))) {
            TlsClients.writeLine(c, "hello");
            assertThatThrownBy(() -> c.getInputStream().read()).isInstanceOf(IOException.class)
                    .hasMessageContaining("reset");
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.BACKEND_RESET);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.BACKEND_RESET)).isEqualTo(1);
    }

    @Test
    void clientResetClosesTheBackendAtOnce() throws Exception {
        CompletableFuture<Throwable> backendSaw = new CompletableFuture<>();
        TestServer sink = backend(s -> {
            try {
                s.getInputStream().transferTo(OutputStream.nullOutputStream());
                backendSaw.complete(null);
            } catch (IOException e) {
                backendSaw.complete(e);
            }
        });
        try (Socket c = TlsClients.plain(proxyTo(sink))) {
            TlsClients.writeLine(c, "hello");
            Await.until("the connection to be routed", () -> proxy.connections().size() == 1
                    && proxy.connections().get(0).bytesFromClient() > 0);
            c.setSoLinger(true, 0);
        }
        assertThat(backendSaw.get(10, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.CLIENT_RESET);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void closeEndsOpenConnectionsWithShutdownAndReleasesEveryThread() throws Exception {
        TestServer echo = backend(s -> s.getInputStream().transferTo(s.getOutputStream()));
        int port = proxyTo(echo);
        try (Socket c = TlsClients.plain(port)) {
            TlsClients.writeLine(c, "ping");
            assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("ping");
            proxy.close(); // drains for 200 ms (see Proxies), then closes what is left
            assertThat(c.getInputStream().read()).isEqualTo(-1);
        }
        ConnectionInfo info = events.awaitClosed(1).get(0);
        assertThat(info.closeReason()).contains(CloseReason.SHUTDOWN);
        assertThat(info.backendAddress().orElseThrow().getPort()).isEqualTo(echo.port());
        assertThat(proxy.stats().open()).isZero();
        // close() returned after every event loop terminated; the OS threads exit a moment later.
        Await.until("no SmartProxy thread alive", () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("smartproxy-")));
        assertThatThrownBy(() -> TlsClients.plain(port)).isInstanceOf(IOException.class);
    }
}
