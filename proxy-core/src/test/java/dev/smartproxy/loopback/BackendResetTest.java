package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A backend that accepts and resets at once (SO_LINGER 0, then close) on a plain TCP route: the
 * client gets a reset too, never a FIN, and the close says {@code BACKEND_RESET}, whether the
 * reset comes before the client's first bytes, while they are being relayed, or right after the
 * backend's own first bytes. On both transports.
 */
class BackendResetTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private SmartProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private int proxyTo(IoTransport transport, TestServer backend) {
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).transport(transport)
                .route(Route.named("tcp").match(m -> m.ports(25))
                        .forward(f -> f.target("127.0.0.1", backend.port()))), 25));
        return Proxies.port(proxy, 25);
    }

    private static void resetNow(Socket s) throws IOException {
        s.setSoLinger(true, 0); // the close that follows sends RST
    }

    /** What the client does after connecting. */
    private interface ClientAct {
        void run(Socket c) throws IOException;
    }

    /**
     * Runs {@link #ROUNDS} connections one after the other: each client's read must fail with a
     * reset (never a clean end of stream), and each connection must close with BACKEND_RESET.
     * The reset races the proxy's connect completion, its first write and its first read; the
     * rounds make each order likely to occur.
     */
    private void assertEveryClientIsReset(IoTransport transport, TestServer.Handler backend, ClientAct act) {
        int port = proxyTo(transport, closer.keep(TestServer.plain("backend", backend)));
        for (int i = 0; i < ROUNDS; i++) {
            int round = i;
            assertThatThrownBy(() -> {
                try (Socket c = TlsClients.plain(port)) {
                    act.run(c);
                    InputStream in = c.getInputStream();
                    while (in.read() != -1) {
                        // the backend's bytes, if any arrived before its reset
                    }
                }
            }).as("round %d: the client sees a reset, not an end of stream", round)
                    .isInstanceOf(IOException.class).hasMessageContaining("reset");
        }
        assertThat(events.awaitClosed(ROUNDS)).allSatisfy(c ->
                assertThat(c.closeReason()).contains(CloseReason.BACKEND_RESET));
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.BACKEND_RESET)).isEqualTo(ROUNDS);
    }

    private static final int ROUNDS = 20;

    @ParameterizedTest
    @EnumSource(value = IoTransport.class, names = {"AUTO", "NIO"})
    void resetRightAfterAcceptWhileTheClientIsSilent(IoTransport transport) {
        assertEveryClientIsReset(transport, BackendResetTest::resetNow, c -> { });
    }

    @ParameterizedTest
    @EnumSource(value = IoTransport.class, names = {"AUTO", "NIO"})
    void resetWhileTheClientsFirstBytesAreHeldForTheConnect(IoTransport transport) {
        // Sent at once: the bytes are held while the connect is in flight, then meet the reset.
        assertEveryClientIsReset(transport, BackendResetTest::resetNow, c -> {
            c.getOutputStream().write("hello\n".repeat(500).getBytes(StandardCharsets.US_ASCII));
            c.getOutputStream().flush();
        });
    }

    @ParameterizedTest
    @EnumSource(value = IoTransport.class, names = {"AUTO", "NIO"})
    void resetWhileTheClientsBytesAndFinAreHeldForTheConnect(IoTransport transport) {
        assertEveryClientIsReset(transport, BackendResetTest::resetNow, c -> {
            c.getOutputStream().write(new byte[3000]);
            c.shutdownOutput();
        });
    }

    @ParameterizedTest
    @EnumSource(value = IoTransport.class, names = {"AUTO", "NIO"})
    void resetRightAfterTheBackendsFirstBytes(IoTransport transport) {
        assertEveryClientIsReset(transport, s -> {
            s.getOutputStream().write("220 bye\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            resetNow(s);
        }, c -> { });
    }
}
