package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollChannelOption;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * On epoll without a proxy-wide maximum, each route port has one listener per event loop, bound
 * together with {@code SO_REUSEPORT}, and the connections go to the loops in turn; with a maximum
 * (whose count needs one accepting thread) or on NIO, one listener on the accept loop. A port's listeners pause, start and close together.
 */
class ListenerPerLoopTest {
    private static final InetAddress LO = InetAddress.getLoopbackAddress();
    private final List<ProxyServer> servers = new ArrayList<>();
    private ConnectionRegistry registry;

    @AfterEach
    void tearDown() {
        servers.forEach(s -> s.shutdown(Duration.ZERO));
    }

    private ProxyServer start(IoTransport choice, int ioThreads, int maxConnections, TestServer backend) {
        Route route = Route.named("r").match(m -> m.ports(25, 26)).forward(f -> f.target("127.0.0.1", backend.port()))
                .build();
        ConnectionPolicy policy = ConnectionPolicy.builder().build();
        registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        AdmissionControl admission = new AdmissionControl(IpRules.none(), AdmissionSettings.builder()
                .maxConnectionsPerIp(0).connectionRateLimitPerMinute(0).maxConnections(maxConnections).build(),
                Ticker.SYSTEM::nanoTime);
        ProxyContext px = new ProxyContext(RouteTable.of(List.of(route)), policy, registry, Transport.of(choice),
                CertificateStore.of(List.<CertificateSource>of(), null), HttpSettings.defaults(),
                WebSocketSettings.defaults(), new BufferBudget(policy.bufferBudget()), admission);
        ProxyServer server = ProxyServer.start(px, ioThreads, Map.of(25, new InetSocketAddress(LO, 0)));
        servers.add(server);
        return server;
    }

    private static TestServer echo() {
        return TestServer.plain("echo", s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            in.transferTo(out);
        });
    }

    /** Opens {@code n} relayed connections through {@code port}, checks each echoes, and returns their client legs. */
    private List<Channel> relayThrough(int port, int n) throws Exception {
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Socket c = TlsClients.plain(port);
                clients.add(c);
                TlsClients.writeLine(c, "hi " + i);
                assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("hi " + i);
            }
            List<Channel> legs = new CopyOnWriteArrayList<>();
            registry.forEachOpen(c -> legs.add(c.legs().get(0)));
            return legs;
        } finally {
            for (Socket c : clients) {
                c.close();
            }
        }
    }

    @Test
    void onEpollEachLoopHasAListener() throws Exception {
        try (TestServer backend = echo()) {
            ProxyServer server = start(IoTransport.EPOLL, 2, 0, backend);
            List<Channel> listeners = server.listeners(25);
            assertThat(listeners).hasSize(2);
            assertThat(listeners.get(0)).isSameAs(server.listener(25));
            assertThat(listeners.get(0).eventLoop()).isNotSameAs(listeners.get(1).eventLoop());
            int port = server.boundAddresses().get(25).getPort();
            for (Channel l : listeners) {
                assertThat(l.config().getOption(EpollChannelOption.SO_REUSEPORT)).isTrue();
                assertThat(((InetSocketAddress) l.localAddress()).getPort()).isEqualTo(port);
            }
            assertThat(server.acceptingListeners()).containsExactlyElementsOf(listeners);

            List<Channel> legs = relayThrough(port, 40);
            assertThat(legs).hasSize(40);
            Set<Channel> acceptedBy = new HashSet<>();
            Set<Object> servedOn = new HashSet<>();
            for (Channel leg : legs) {
                assertThat(listeners).contains(leg.parent());
                acceptedBy.add(leg.parent());
                servedOn.add(leg.eventLoop());
            }
            // 40 connections from distinct source ports: the kernel's hash gives both listeners some
            // (all on one would have odds of 2^-39), and the connections go to both loops in turn.
            assertThat(acceptedBy).hasSize(2);
            assertThat(servedOn).hasSize(2);

            server.unbind(List.of(25));
            listeners.forEach(l -> assertThat(l.isOpen()).isFalse());
            assertThatThrownBy(() -> TlsClients.plain(port).close()).isInstanceOf(ConnectException.class);
        }
    }

    @Test
    void oneIoThreadAcceptsOnItsOwnLoopWithoutReusePort() throws Exception { // no accept thread to wake
        try (TestServer backend = echo()) {
            ProxyServer server = start(IoTransport.EPOLL, 1, 0, backend);
            List<Channel> listeners = server.listeners(25);
            assertThat(listeners).hasSize(1);
            assertThat(listeners.get(0).config().getOption(EpollChannelOption.SO_REUSEPORT)).isFalse();
            List<Channel> legs = relayThrough(server.boundAddresses().get(25).getPort(), 3);
            assertThat(legs).hasSize(3).allSatisfy(leg -> assertThat(leg.eventLoop()).isSameAs(leg.parent().eventLoop()));
        }
    }

    @Test
    void aPausedPortsListenersStartTogether() throws Exception {
        try (TestServer backend = echo()) {
            ProxyServer server = start(IoTransport.EPOLL, 2, 0, backend);
            server.bindPaused(Map.of(26, new InetSocketAddress(LO, 0)));
            List<Channel> paused = server.listeners(26);
            assertThat(paused).hasSize(2).allSatisfy(l -> assertThat(l.config().isAutoRead()).isFalse());
            assertThat(server.acceptingListeners()).doesNotContainAnyElementsOf(paused);
            server.startAccepting(List.of(26));
            assertThat(paused).allSatisfy(l -> assertThat(l.config().isAutoRead()).isTrue());
            assertThat(server.acceptingListeners()).containsAll(paused);
            assertThat(relayThrough(server.boundAddresses().get(26).getPort(), 4)).hasSize(4);
        }
    }

    @Test
    void aFailedBindOfOnePortClosesItsListeners() throws Exception {
        try (TestServer backend = echo(); java.net.ServerSocket taken = new java.net.ServerSocket(0, 50, LO)) {
            ProxyServer server = start(IoTransport.EPOLL, 2, 0, backend);
            assertThatThrownBy(() -> server.bindPaused(Map.of(26, new InetSocketAddress(LO, taken.getLocalPort()))))
                    .isInstanceOf(java.io.UncheckedIOException.class).hasMessageContaining("route port 26");
            assertThat(server.listeners(26)).isEmpty();
            assertThat(server.listeners(25)).hasSize(2);
        }
    }

    @Test
    void bindingFromAnIoThreadIsRefusedWithAClearMessage() throws Exception {
        try (TestServer backend = echo()) {
            ProxyServer server = start(IoTransport.EPOLL, 2, 0, backend);
            // An event listener that updates routes runs on an I/O thread: the bind would wait on its own loop.
            io.netty.util.concurrent.Future<?> f = server.listener(25).eventLoop()
                    .submit(() -> server.bindPaused(Map.of(26, new InetSocketAddress(LO, 0)))).await();
            assertThat(f.cause()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("route port 26").hasMessageContaining("I/O threads");
            assertThat(server.listeners(26)).isEmpty();
        }
    }

    @Test
    void aPortAnotherProxyListensOnIsRefusedAsWithoutReusePort() throws Exception {
        try (TestServer backend = echo()) {
            ProxyServer first = start(IoTransport.EPOLL, 2, 0, backend);
            int port = first.boundAddresses().get(25).getPort();
            // A second proxy's listeners would join the first one's SO_REUSEPORT group: refused instead.
            ProxyServer second = start(IoTransport.EPOLL, 2, 0, backend);
            assertThatThrownBy(() -> second.bindPaused(Map.of(26, new InetSocketAddress(LO, port))))
                    .isInstanceOf(java.io.UncheckedIOException.class).hasMessageContaining("route port 26");
            assertThat(second.listeners(26)).isEmpty();
            relayThrough(port, 2); // the first proxy still serves its port (each line echoed)
        }
    }

    @Test
    void withAMaximumOrOnNioOneListenerOnTheAcceptLoop() throws Exception {
        try (TestServer backend = echo()) {
            for (IoTransport choice : List.of(IoTransport.EPOLL, IoTransport.NIO)) {
                ProxyServer server = start(choice, 2, choice == IoTransport.EPOLL ? 100 : 0, backend);
                List<Channel> listeners = server.listeners(25);
                assertThat(listeners).hasSize(1);
                Channel l = listeners.get(0);
                Await.until("the listener is registered", () -> l.isRegistered());
                List<Channel> legs = relayThrough(server.boundAddresses().get(25).getPort(), 2);
                assertThat(legs).hasSize(2)
                        .allSatisfy(leg -> assertThat(leg.eventLoop()).isNotSameAs(l.eventLoop()));
            }
        }
    }
}
