package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.LeakDetectionExtension;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.testing.WebSocketEchoServer;
import dev.smartproxy.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import io.netty.pkitesting.X509Bundle;
import java.math.BigInteger;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLSocket;
import java.net.URI;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The promise of live updates, end to end with real clients: a WebSocket through a PASSTHROUGH
 * route (TLS from the JDK client to a TLS WebSocket backend, never opened by the proxy) and one
 * through a TERMINATE route (TLS ends at the proxy, plain ws to the backend) stay open and keep
 * echoing across 50 route updates that add and remove other routes and ports; their connection
 * ids stay, and no close is reported.
 */
@ExtendWith(LeakDetectionExtension.class)
class LiveUpdateWebSocketTest {
    private static final int UPDATES = 50;

    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final List<RouteUpdate> updates = new CopyOnWriteArrayList<>();
    private SmartProxy proxy;
    private int rotations;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void webSocketsOnUnchangedRoutesOutliveFiftyUpdatesOfOtherRoutesAndPorts() throws Exception {
        WebSocketEchoServer tlsBackend = closer.keep(new WebSocketEchoServer("ws.test", true));
        WebSocketEchoServer plainBackend = closer.keep(new WebSocketEchoServer("a.test", false));
        Route passthrough = Route.named("ws-passthrough").match(m -> m.ports(443).domains("ws.test"))
                .forward(f -> f.target("127.0.0.1", tlsBackend.port()).tls(TlsMode.PASSTHROUGH)).build();
        Route terminate = Route.named("ws-terminate").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("127.0.0.1", plainBackend.port()).tls(TlsMode.TERMINATE)).build();
        proxy = closer.keep(SmartProxy.builder().listenAllOn(InetAddress.getLoopbackAddress())
                .gracefulShutdownTimeout(Duration.ofMillis(200)).certificate(TestPki.certificate("a.test"))
                .listener(events).listener(new ProxyEventListener() {
                    @Override
                    public void onRoutesUpdated(RouteUpdate update) {
                        updates.add(update);
                    }
                })
                .route(passthrough).route(terminate).build().start());
        int port = proxy.boundAddress(443).getPort();
        WsClient viaPassthrough = WsClient.connect(URI.create("wss://ws.test:" + port + "/echo"));
        WsClient viaTerminate = WsClient.connect(URI.create("wss://a.test:" + port + "/echo"));
        assertThat(viaPassthrough.echo("p0")).isEqualTo("echo: p0");
        assertThat(viaTerminate.echo("t0")).isEqualTo("echo: t0");
        List<Long> ids = proxy.connections().stream().map(ConnectionInfo::id).toList();
        assertThat(ids).hasSize(2);
        assertThat(proxy.connections()).extracting(c -> c.routeName().orElseThrow())
                .containsExactlyInAnyOrder("ws-passthrough", "ws-terminate");

        for (int i = 1; i <= UPDATES; i++) {
            // The same routes as new, equal objects, as a user reloading a configuration makes them.
            List<Route> routes = new ArrayList<>(List.of(copyOf(passthrough, tlsBackend.port(), TlsMode.PASSTHROUGH,
                    "ws.test"), copyOf(terminate, plainBackend.port(), TlsMode.TERMINATE, "a.test")));
            int otherPort = 9100 + i % 4; // ports come and go: each update opens one and closes another
            routes.add(Route.named("other-" + i).match(m -> m.ports(otherPort))
                    .forward(f -> f.target("127.0.0.1", 1)).build());
            if (i % 3 == 0) { // and routes on the WebSockets' own port come and go too
                routes.add(0, Route.named("same-port-" + i).match(m -> m.ports(443).domains("b.test"))
                        .forward(f -> f.target("127.0.0.1", 1).tls(TlsMode.PASSTHROUGH)).build());
            }
            RouteUpdate u = proxy.updateRoutes(routes);
            assertThat(u.unchanged()).contains("ws-passthrough", "ws-terminate");
            assertThat(u.changed()).isEmpty();
            assertThat(u.connectionsKept() + u.connectionsDraining() + u.connectionsClosed()).isZero();
            if (i > 1) {
                assertThat(u.portsOpened()).containsExactly(otherPort);
                assertThat(u.portsClosed()).containsExactly(9100 + (i - 1) % 4);
            }
            betweenUpdates(i);
            assertThat(viaPassthrough.echo("p" + i)).isEqualTo("echo: p" + i);
            assertThat(viaTerminate.echo("t" + i)).isEqualTo("echo: t" + i);
        }

        assertThat(updates).hasSize(UPDATES);
        assertThat(rotations).isEqualTo(UPDATES / 10);
        assertThat(proxy.connections().stream().map(ConnectionInfo::id).toList()).isEqualTo(ids);
        // Only the handshakes that checked each rotation closed; neither WebSocket did.
        assertThat(events.closed()).hasSize(rotations).extracting(ConnectionInfo::id).doesNotContainAnyElementsOf(ids);
        assertThat(viaPassthrough.ended).isNotDone();
        assertThat(viaTerminate.ended).isNotDone();
        assertThat(proxy.boundAddress(443).getPort()).isEqualTo(port);
        viaPassthrough.close(WebSocket.NORMAL_CLOSURE, "bye");
        viaTerminate.close(WebSocket.NORMAL_CLOSURE, "bye");
        assertThat(viaPassthrough.ended.get(5, TimeUnit.SECONDS)).startsWith("close 1000");
        assertThat(viaTerminate.ended.get(5, TimeUnit.SECONDS)).startsWith("close 1000");
    }

    /**
     * Runs between two route updates while both WebSockets are open: every tenth update also
     * rotates the certificate of the terminated WebSocket's name, so the same WebSockets outlive
     * certificate updates too, while the next handshake gets the new certificate.
     */
    private void betweenUpdates(int update) throws Exception {
        if (update % 10 != 0) {
            return;
        }
        X509Bundle renewed = TestPki.shared().issue("a.test");
        proxy.updateCertificates(List.of(CertificateSource.pem(renewed.getCertificatePathPEM(),
                renewed.getPrivateKeyPEM())), null);
        BigInteger serial = renewed.getCertificate().getSerialNumber();
        assertThat(proxy.certificates()).extracting(c -> new BigInteger(c.serial(), 16)).containsExactly(serial);
        try (SSLSocket s = TlsClients.connect(proxy.boundAddress(443).getPort(), "a.test")) {
            assertThat(((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber())
                    .as("the handshake after rotation %d", update / 10).isEqualTo(serial);
        }
        rotations++;
    }

    private static Route copyOf(Route r, int backendPort, TlsMode mode, String domain) {
        return Route.named(r.name()).match(m -> m.ports(443).domains(domain))
                .forward(f -> f.target("127.0.0.1", backendPort).tls(mode)).build();
    }
}
