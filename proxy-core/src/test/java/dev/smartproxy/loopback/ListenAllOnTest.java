package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code listenAllOn}: a configuration with a port range runs on ephemeral loopback ports in one call. */
class ListenAllOnTest {
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void everyRoutePortGetsItsOwnEphemeralLoopbackPortAndIsRelayed() throws Exception {
        TestServer echo = TestServer.plain("echo", s -> TlsClients.writeLine(s, TlsClients.readLine(s.getInputStream())));
        closer.keep(echo);
        SmartProxy proxy = SmartProxy.builder()
                .route(Route.named("range").match(m -> m.portRange(7100, 7102)).forward(f -> f.target("127.0.0.1", echo.port())))
                .route(Route.named("single").match(m -> m.ports(7200)).forward(f -> f.target("127.0.0.1", echo.port())))
                .listen(7200, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)) // a single override still applies
                .listenAllOn(InetAddress.getLoopbackAddress())
                .build().start();
        closer.keep(proxy);
        Map<Integer, InetSocketAddress> bound = proxy.boundAddresses();
        assertThat(bound).containsOnlyKeys(7100, 7101, 7102, 7200);
        assertThat(bound.values()).allSatisfy(a -> {
            assertThat(a.getAddress().isLoopbackAddress()).isTrue();
            assertThat(a.getPort()).isNotZero().isNotIn(7100, 7101, 7102, 7200);
        });
        assertThat(bound.values().stream().map(InetSocketAddress::getPort).distinct()).hasSize(4);
        for (int routePort : bound.keySet()) {
            try (Socket c = TlsClients.plain(proxy.boundAddress(routePort).getPort())) {
                TlsClients.writeLine(c, "via " + routePort);
                assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("via " + routePort);
            }
        }
    }
}
