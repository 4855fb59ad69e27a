package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.nio.NioChannelOption;
import jdk.net.ExtendedSocketOptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * TCP keepalive, {@code TCP_NODELAY} and the proxy's buffer allocator are set on both legs: read
 * back from the live sockets (getsockopt), per transport (on epoll the client leg inherits the
 * socket options from its listener, one per event loop here). The sockets are the connection's legs, as the registry holds them for close
 * accounting.
 */
class SocketOptionsTest {
    @ParameterizedTest
    @EnumSource(value = IoTransport.class, names = {"EPOLL", "NIO"})
    void keepAliveOptionsAreSetOnTheClientAndBackendLegs(IoTransport choice) throws Exception {
        TcpKeepAlive ka = TcpKeepAlive.builder().idle(Duration.ofSeconds(7)).interval(Duration.ofSeconds(3)).probes(4)
                .userTimeout(Duration.ofSeconds(19)).build();
        try (TestServer backend = TestServer.plain("b", s -> s.getInputStream().transferTo(OutputStream.nullOutputStream()))) {
            Route route = Route.named("r").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", backend.port()))
                    .build();
            Transport transport = Transport.of(choice);
            ProxyContext px = new ProxyContext(RouteTable.of(List.of(route)),
                    ConnectionPolicy.builder().tcpKeepAlive(ka).build(),
                    new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM), transport);
            ConnectionRegistry registry = px.registry();
            ProxyServer server = ProxyServer.start(px, 2,
                    Map.of(25, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
            try (Socket c = TlsClients.plain(server.boundAddresses().get(25).getPort())) {
                TlsClients.writeLine(c, "hi");
                Await.until("both legs connected", () -> connectedLegs(registry).size() == 2);
                List<Channel> legs = connectedLegs(registry);
                for (Channel leg : legs) {
                    assertThat(leg.alloc()).as("the proxy's own allocator on both legs").isSameAs(Transport.allocator());
                    assertThat(leg.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
                    assertThat(leg.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
                    if (transport.isEpoll()) {
                        assertThat(leg.config().getOption(EpollChannelOption.TCP_KEEPIDLE)).isEqualTo(7);
                        assertThat(leg.config().getOption(EpollChannelOption.TCP_KEEPINTVL)).isEqualTo(3);
                        assertThat(leg.config().getOption(EpollChannelOption.TCP_KEEPCNT)).isEqualTo(4);
                        assertThat(leg.config().getOption(EpollChannelOption.TCP_USER_TIMEOUT)).isEqualTo(19_000);
                    } else {
                        assertThat(leg.config().getOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE)))
                                .isEqualTo(7);
                        assertThat(leg.config().getOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL)))
                                .isEqualTo(3);
                        assertThat(leg.config().getOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT)))
                                .isEqualTo(4);
                    }
                }
            } finally {
                server.shutdown(Duration.ZERO);
            }
        }
    }

    /** The legs of the one open connection once both are connected; empty before. */
    private static List<Channel> connectedLegs(ConnectionRegistry registry) {
        List<Channel> legs = new CopyOnWriteArrayList<>();
        registry.forEachOpen(c -> legs.addAll(c.legs()));
        return legs.size() == 2 && legs.stream().allMatch(Channel::isActive) ? legs : List.of();
    }
}
