package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.testing.TlsClients.Wire;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every way a connection is refused: the client is closed cleanly with a specific reason, the
 * registry returns to zero, and no byte reaches a backend it was not routed to.
 */
class RejectionTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private TestServer backend;
    private SmartProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A proxy on route port 443 whose only route takes SNI a.test to a TLS backend. */
    private int sniProxy(Consumer<SmartProxy.Builder> tune) {
        backend = TestServer.tls("a.test", s -> s.getInputStream().transferTo(s.getOutputStream()));
        closer.keep(backend);
        SmartProxy.Builder b = SmartProxy.builder().listener(events)
                .route(Route.named("a").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.PASSTHROUGH)));
        tune.accept(b);
        proxy = Proxies.start(b, 443);
        closer.keep(proxy);
        return Proxies.port(proxy, 443);
    }

    /** Waits for the one connection's close and checks the reason, counters and registry. */
    private void assertRejected(CloseReason reason) {
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.closeReason()).contains(reason);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(reason)).isEqualTo(1);
        assertThat(proxy.stats().closedTotal()).isEqualTo(1);
        if (backend != null) {
            assertThat(backend.connections()).as("connections forwarded to the backend").isZero();
        }
    }

    /** The proxy closed the connection: reading gives end of stream (or a reset), never data. */
    private static void assertClosedByProxy(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        try {
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the proxy did not close the connection", e);
        } catch (IOException e) {
            assertThat(e).hasMessageContaining("reset");
        }
    }

    @Test
    void unknownSniIsClosedWithNoRoute() throws Exception {
        int port = sniProxy(b -> { });
        assertThatThrownBy(() -> TlsClients.connect(port, "c.test")).isInstanceOf(IOException.class);
        assertRejected(CloseReason.NO_ROUTE);
        assertThat(events.closed().get(0).sni()).contains("c.test");
    }

    @Test
    void clientHelloWithoutSniIsClosedWithNoSni() throws Exception {
        int port = sniProxy(b -> { });
        assertThatThrownBy(() -> TlsClients.connect(port, null)).isInstanceOf(IOException.class);
        assertRejected(CloseReason.NO_SNI);
    }

    @Test
    void catchAllDomainStillNeedsSni() throws Exception {
        backend = TestServer.tls("a.test", s -> s.getInputStream().transferTo(s.getOutputStream()));
        closer.keep(backend);
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("any").match(m -> m.ports(443).domains("*"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.PASSTHROUGH))), 443);
        closer.keep(proxy);
        assertThatThrownBy(() -> TlsClients.connect(Proxies.port(proxy, 443), null)).isInstanceOf(IOException.class);
        assertRejected(CloseReason.NO_SNI);
    }

    @Test
    void plainTextOnAnSniPortIsClosedAsInvalid() throws Exception {
        int port = sniProxy(b -> { });
        try (Socket s = TlsClients.plain(port)) {
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.CLIENT_HELLO_INVALID);
    }

    @Test
    void malformedClientHelloIsClosedAsInvalid() throws Exception {
        int port = sniProxy(b -> { });
        // A handshake record holding a ClientHello whose cipher_suites length runs past its end.
        byte[] body = new byte[2 + 32 + 1 + 2];
        body[0] = 3;
        body[1] = 3;
        body[35] = 0x7f; // cipher_suites length 0x7fxx, far beyond the message
        byte[] hs = new byte[4 + body.length];
        hs[0] = 1;
        hs[3] = (byte) body.length;
        System.arraycopy(body, 0, hs, 4, body.length);
        byte[] record = new byte[5 + hs.length];
        record[0] = 22;
        record[1] = 3;
        record[2] = 1;
        record[4] = (byte) hs.length;
        System.arraycopy(hs, 0, record, 5, hs.length);
        try (Socket s = TlsClients.plain(port)) {
            s.getOutputStream().write(record);
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.CLIENT_HELLO_INVALID);
    }

    @Test
    void oversizedClientHelloIsClosedAsTooLarge() throws Exception {
        int port = sniProxy(b -> b.maxClientHelloSize(1024));
        assertThatThrownBy(() -> TlsClients.connect(port, "a.test", Wire.NORMAL.padded(2400)))
                .isInstanceOf(IOException.class);
        assertRejected(CloseReason.CLIENT_HELLO_TOO_LARGE);
    }

    @Test
    void silentClientIsClosedWhenThePeekTimesOut() throws Exception {
        int port = sniProxy(b -> b.initialDataTimeout(Duration.ofMillis(200)));
        try (Socket s = TlsClients.plain(port)) {
            s.getOutputStream().write(new byte[] {22, 3, 1}); // the start of a record, then nothing
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.CLIENT_HELLO_TIMEOUT);
    }

    @Test
    void clientAddressOutsideEveryRouteIsClosedAtAccept() throws Exception {
        backend = TestServer.plain("b", s -> s.getInputStream().transferTo(OutputStream.nullOutputStream()));
        closer.keep(backend);
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("office").match(m -> m.ports(25).clientIps("192.0.2.0/24"))
                        .forward(f -> f.target("127.0.0.1", backend.port()))), 25);
        closer.keep(proxy);
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 25))) {
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.NO_ROUTE);
    }

    @Test
    void refusedBackendClosesTheClientWithConnectRefused() throws Exception {
        int deadPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = probe.getLocalPort(); // bound, then closed: connecting is refused
        }
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("dead").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", deadPort))), 25);
        closer.keep(proxy);
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 25))) {
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.CONNECT_REFUSED);
    }

    @Test
    void backendThatNeverAnswersClosesTheClientWithConnectTimeoutAndPendingDataIsCapped() throws Exception {
        // A listener whose accept queue is full drops further SYNs: connecting to it hangs.
        ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        closer.keep(full);
        List<Socket> fillers = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Socket f = new Socket();
            try {
                f.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), full.getLocalPort()), 200);
                fillers.add(f);
            } catch (SocketTimeoutException e) {
                f.close();
                break; // the queue is full
            }
        }
        fillers.forEach(f -> closer.keep(f));
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                .connectTimeout(Duration.ofMillis(500))
                .maxPendingDataSize(64 * 1024)
                .route(Route.named("hang").match(m -> m.ports(25))
                        .forward(f -> f.target("127.0.0.1", full.getLocalPort()))), 25);
        closer.keep(proxy);
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 25))) {
            s.setSoTimeout(10_000);
            // Send far more than the pending cap while the connect hangs; the proxy stops reading at the cap.
            Thread writer = new Thread(() -> {
                try {
                    s.getOutputStream().write(new byte[8 << 20]);
                } catch (IOException expected) {
                    // the proxy closes the connection when the connect times out
                }
            });
            writer.start();
            assertClosedByProxy(s);
            writer.join(10_000);
        }
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.bytesFromClient()).as("client bytes the proxy took in while connecting")
                .isLessThan(64 * 1024 + 256 * 1024);
        assertRejected(CloseReason.CONNECT_TIMEOUT);
    }

    @Test
    void unresolvableBackendNameClosesTheClientWithConnectFailed() throws Exception {
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("nowhere").match(m -> m.ports(25)).forward(f -> f.target("no-such-host.invalid", 25))),
                25);
        closer.keep(proxy);
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 25))) {
            assertClosedByProxy(s);
        }
        assertRejected(CloseReason.CONNECT_FAILED);
    }
}
