package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.WebSocketEchoServer;
import dev.smartproxy.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The scenario SmartProxy was born from, with durations scaled from seconds to milliseconds:
 * a WebSocket carried end to end over TLS through an SNI-passthrough route sits idle far longer
 * than a 30-second-style heartbeat would allow, and still echoes. The same connection under
 * {@code NORMAL} with a short inactivity timeout is closed with reason {@code INACTIVITY}.
 *
 * <p>Real components on both ends: the JDK's {@link HttpClient} WebSocket client and a Netty
 * WebSocket server, with TLS between them that the proxy never opens.
 */
class PassthroughWebSocketKeepAliveTest {
    /** What a 30 s heartbeat becomes at this test's scale. */
    private static final Duration SCALED_HEARTBEAT = Duration.ofMillis(100);
    /** How long the WebSocket sits idle: fifteen scaled heartbeats. */
    private static final long IDLE_MS = 1500;

    private WebSocketEchoServer backend;
    private SmartProxy proxy;
    private final Proxies.Recorder events = new Proxies.Recorder();

    @BeforeEach
    void setUp() throws Exception {
        backend = new WebSocketEchoServer("ws.test");
    }

    @AfterEach
    void tearDown() {
        if (proxy != null) {
            proxy.close();
        }
        backend.close();
    }

    private int start(Consumer<SmartProxy.Builder> policy) {
        SmartProxy.Builder b = SmartProxy.builder().listener(events)
                .route(Route.named("websocket-passthrough").match(m -> m.ports(443).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.PASSTHROUGH)));
        policy.accept(b);
        proxy = Proxies.start(b, 443);
        return Proxies.port(proxy, 443);
    }

    private static void idle() throws InterruptedException {
        Thread.sleep(IDLE_MS); // the point of the test: real idle time, no byte in either direction
    }

    @Test
    void extendedPassthroughWebSocketOutlivesManyHeartbeatPeriods() throws Exception {
        // The seed's recommended configuration, scaled: inactivity 4 h -> 400 ms, EXTENDED x 10.
        int port = start(b -> b.inactivityTimeout(Duration.ofMillis(400))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED).keepAliveInactivityMultiplier(10));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + port + "/echo"));
        assertThat(c.echo("before")).isEqualTo("echo: before");
        idle();
        assertThat(IDLE_MS).isGreaterThan(10 * SCALED_HEARTBEAT.toMillis());
        assertThat(c.ended).isNotDone();
        assertThat(c.echo("after")).isEqualTo("echo: after");
        ConnectionInfo info = proxy.connections().get(0);
        assertThat(info.policy().orElseThrow().inactivityTimeout()).isEqualTo(Duration.ofMillis(4000));
        assertThat(events.closed()).isEmpty();
        c.close(java.net.http.WebSocket.NORMAL_CLOSURE, "done");
    }

    @Test
    void immortalPassthroughWebSocketOutlivesEveryTimer() throws Exception {
        int port = start(b -> b.inactivityTimeout(Duration.ofMillis(50)).maxConnectionLifetime(Duration.ofMillis(50))
                .keepAliveTreatment(KeepAliveTreatment.IMMORTAL));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + port + "/echo"));
        idle();
        assertThat(c.echo("still here")).isEqualTo("echo: still here");
        assertThat(events.closed()).isEmpty();
    }

    @Test
    void normalWithAShortTimeoutClosesTheIdleWebSocketWithReasonInactivity() throws Exception {
        int port = start(b -> b.inactivityTimeout(Duration.ofMillis(300)).keepAliveTreatment(KeepAliveTreatment.NORMAL));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + port + "/echo"));
        assertThat(c.echo("before")).isEqualTo("echo: before");
        // The negative control: the same idle period ends this one.
        assertThat(c.ended.get(IDLE_MS * 4, TimeUnit.MILLISECONDS)).isNotNull();
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason()).contains(CloseReason.INACTIVITY);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.INACTIVITY)).isEqualTo(1);
    }

    @Test
    void extendedWarnsThenClosesAfterTheGraceUnlessTrafficResumes() throws Exception {
        java.util.List<Long> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        // The grace must outlast one echo on a loaded machine: the test answers the warning within it.
        int port = start(b -> b.inactivityTimeout(Duration.ofMillis(100)).keepAliveInactivityMultiplier(2)
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED).extendedKeepAliveGrace(Duration.ofSeconds(2))
                .listener(new dev.smartproxy.event.ProxyEventListener() {
                    @Override
                    public void onInactivityWarning(ConnectionInfo c) {
                        warnings.add(c.id());
                    }
                }));
        WsClient c = WsClient.connect(URI.create("wss://ws.test:" + port + "/echo"));
        dev.smartproxy.testing.Await.until("an inactivity warning", () -> warnings.size() == 1);
        assertThat(c.echo("saved")).isEqualTo("echo: saved"); // traffic during the grace cancels the close
        assertThat(c.ended.get(5, TimeUnit.SECONDS)).isNotNull(); // then, idle again: warning, grace, close
        assertThat(warnings).hasSize(2);
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.INACTIVITY);
    }
}
