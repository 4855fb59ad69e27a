package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The TCP relay counts a connection's bytes itself once the accept stage's counter has left the
 * pipeline: the counts stay exact each way, whether the first bytes were peeked (a ClientHello the
 * peek replays to the relay, counted once) or the backend speaks before the client sends anything
 * (bytes written to the client while the accept stage's counter is still in place).
 */
class RelayByteCountTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void aPassthroughRelayCountsThePeekedHelloOnceAndEveryByteAfterIt() throws Exception {
        byte[] hello = TlsClients.clientHello("a.test");
        int k = 200_000;
        int answer = 70_000;
        TestServer backend = closer.keep(TestServer.plain("backend", s -> {
            s.getInputStream().readNBytes(hello.length + k);
            s.getOutputStream().write(new byte[answer]);
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the client closes
        }));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("pt").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.PASSTHROUGH))), 443));
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 443))) {
            c.getOutputStream().write(hello);
            c.getOutputStream().flush();
            byte[] more = new byte[k];
            new Random(3).nextBytes(more);
            c.getOutputStream().write(more);
            c.getOutputStream().flush();
            assertThat(c.getInputStream().readNBytes(answer)).hasSize(answer);
            ProxyMetrics open = proxy.metrics();
            assertThat(open.bytesIn().total()).isEqualTo(hello.length + k);
            assertThat(open.bytesOut().total()).isEqualTo(answer);
        }
        ConnectionInfo info = events.awaitClosed(1).get(0);
        assertThat(info.bytesFromClient()).isEqualTo(hello.length + k);
        assertThat(info.bytesFromBackend()).isEqualTo(answer);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.metrics().bytesIn().total()).isEqualTo(hello.length + k);
        assertThat(proxy.metrics().bytesOut().total()).isEqualTo(answer);
    }

    @Test
    void aPlainRelayCountsWhatTheBackendSaysBeforeTheClientSpeaks() throws Exception {
        int greeting = 50_000;
        int k = 120_000;
        TestServer backend = closer.keep(TestServer.plain("speaks-first", s -> {
            s.getOutputStream().write(new byte[greeting]);
            s.getOutputStream().flush();
            byte[] got = s.getInputStream().readNBytes(k);
            s.getOutputStream().write(got);
            s.getOutputStream().flush();
            s.getInputStream().read();
        }));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("tcp").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", backend.port()))),
                25));
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 25))) {
            InputStream in = c.getInputStream();
            assertThat(in.readNBytes(greeting)).hasSize(greeting);
            assertThat(proxy.metrics().bytesOut().total()).isEqualTo(greeting);
            byte[] sent = new byte[k];
            new Random(5).nextBytes(sent);
            c.getOutputStream().write(sent);
            c.getOutputStream().flush();
            assertThat(in.readNBytes(k)).isEqualTo(sent);
            assertThat(proxy.metrics().bytesIn().total()).isEqualTo(k);
            assertThat(proxy.metrics().bytesOut().total()).isEqualTo(greeting + k);
        }
        ConnectionInfo info = events.awaitClosed(1).get(0);
        assertThat(info.bytesFromClient()).isEqualTo(k);
        assertThat(info.bytesFromBackend()).isEqualTo(greeting + k);
    }

}
