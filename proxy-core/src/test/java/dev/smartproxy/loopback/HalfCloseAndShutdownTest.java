package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The half-close grace and the graceful stop on real sockets, with durations in milliseconds. */
class HalfCloseAndShutdownTest {
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final Closer closer = new Closer();
    private TestServer backend;
    private SmartProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void aOneWayStreamAfterTheClientsFinIsNeverCutThenSilenceEndsIt() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        backend = closer.keep(TestServer.plain("drip", s -> {
            s.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the client's FIN
            OutputStream out = s.getOutputStream();
            for (int i = 0; i < 25; i++) { // 2.5 s of a slow download, far beyond the 1 s grace
                out.write(("chunk " + i + "\n").getBytes());
                out.flush();
                release.await(100, TimeUnit.MILLISECONDS); // pacing: real time between chunks
            }
            release.await(10, TimeUnit.SECONDS); // then silent, with no FIN: only the grace can end this
        }));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events).halfCloseGracePlain(Duration.ofSeconds(1))
                .route(Route.named("tcp").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", backend.port()))),
                25));
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 25))) {
            c.shutdownOutput();
            InputStream in = c.getInputStream();
            for (int i = 0; i < 25; i++) {
                assertThat(TlsClients.readLine(in)).isEqualTo("chunk " + i);
            }
            assertThat(in.read()).isEqualTo(-1); // closed by the grace once the backend fell silent
        } finally {
            release.countDown();
        }
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason()).contains(CloseReason.HALF_CLOSE_GRACE_EXPIRED);
        assertThat(closed.policy().orElseThrow().halfCloseGrace()).isEqualTo(Duration.ofSeconds(1));
        Proxies.awaitIdle(proxy);
    }

    @Test
    void gracefulStopLetsAConnectionFinishWithinTheDrain() throws Exception {
        CountDownLatch requestSeen = new CountDownLatch(1);
        CountDownLatch respond = new CountDownLatch(1);
        backend = closer.keep(TestServer.plain("slow", s -> {
            TlsClients.readLine(s.getInputStream());
            requestSeen.countDown();
            respond.await(10, TimeUnit.SECONDS); // answers only once the proxy is already stopping
            s.getOutputStream().write("done\n".getBytes());
        }));
        proxy = closer.keep(SmartProxy.builder().listener(events).gracefulShutdownTimeout(Duration.ofSeconds(5))
                .listen(25, new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
                .route(Route.named("tcp").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", backend.port())))
                .build().start());
        int port = Proxies.port(proxy, 25);
        Thread stopper = new Thread(proxy::close);
        try (Socket c = TlsClients.plain(port)) {
            TlsClients.writeLine(c, "request");
            assertThat(requestSeen.await(5, TimeUnit.SECONDS)).isTrue();
            stopper.start(); // stops accepting at once, then waits for this connection to finish
            Await.until("the listener closed", () -> {
                try (Socket refused = TlsClients.plain(port)) {
                    return false;
                } catch (java.io.IOException expected) {
                    return true;
                }
            });
            respond.countDown();
            assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("done");
            assertThat(c.getInputStream().read()).isEqualTo(-1);
        }
        stopper.join(10_000);
        assertThat(stopper.isAlive()).isFalse();
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason().orElseThrow()).isIn(CloseReason.BACKEND_CLOSED, CloseReason.CLIENT_CLOSED);
        assertThat(proxy.stats().closed(CloseReason.SHUTDOWN)).isZero();
    }
}
