package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRetirement;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.LeakDetectionExtension;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Live route updates over real sockets: retirement of the connections of removed and changed
 * routes (kept, drained with a scaled-down deadline, closed at once), untouched connections of
 * other routes, all-or-nothing validation with {@code build()}'s messages, listeners opened and
 * closed, identical updates that touch nothing, and the update event.
 */
@ExtendWith(LeakDetectionExtension.class)
class LiveRouteUpdateTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final List<RouteUpdate> updates = new CopyOnWriteArrayList<>();
    private final List<Thread> updateThreads = new CopyOnWriteArrayList<>();
    private final TestServer x = echo("X");
    private final TestServer y = echo("Y");

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A line echo server that answers each line with {@code name:line}. */
    private TestServer echo(String name) {
        return closer.keep(TestServer.plain(name, s -> {
            String line;
            while ((line = TlsClients.readLine(s.getInputStream())) != null) {
                s.getOutputStream().write((name + ":" + line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                s.getOutputStream().flush();
            }
        }));
    }

    private static Route.Builder tcp(String name, int port, TestServer backend) {
        return Route.named(name).match(m -> m.ports(port)).forward(f -> f.target("127.0.0.1", backend.port()));
    }

    private SmartProxy start(Route... routes) {
        SmartProxy proxy = SmartProxy.builder().listenAllOn(LOOPBACK).gracefulShutdownTimeout(Duration.ofMillis(200))
                .listener(events).listener(new ProxyEventListener() {
                    @Override
                    public void onRoutesUpdated(RouteUpdate update) {
                        updates.add(update);
                        updateThreads.add(Thread.currentThread());
                    }
                })
                .routes(List.of(routes)).build().start();
        return closer.keep(proxy);
    }

    private Socket connect(SmartProxy proxy, int routePort) throws IOException {
        return closer.keep(TlsClients.plain(proxy.boundAddress(routePort).getPort()));
    }

    private static String echo(Socket s, String text) throws IOException {
        TlsClients.writeLine(s, text);
        return TlsClients.readLine(s.getInputStream());
    }

    private static List<Long> ids(SmartProxy proxy) {
        return proxy.connections().stream().map(ConnectionInfo::id).toList();
    }

    private ConnectionInfo awaitClosedOn(String route) {
        Await.until("a close on route " + route + " (closed: " + events.closed() + ")",
                () -> events.closed().stream().anyMatch(c -> c.routeName().orElse("").equals(route)));
        return events.closed().stream().filter(c -> c.routeName().orElse("").equals(route)).findFirst().orElseThrow();
    }

    @Test
    void removedAndChangedRoutesRetireTheirConnectionsAsTheirRetirementSaysAndOthersAreUntouched() throws Exception {
        Duration drain = Duration.ofMillis(800); // scaled down from minutes
        Route stable = tcp("stable", 7005, x).build();
        SmartProxy proxy = start(
                tcp("kept", 7001, x).build(),
                tcp("drained", 7002, x).retirement(RouteRetirement.drain(drain)).build(),
                tcp("closed", 7003, x).retirement(RouteRetirement.close()).build(),
                tcp("changed", 7004, x).build(),
                stable);
        Socket kept = connect(proxy, 7001);
        Socket drained = connect(proxy, 7002);
        Socket closed = connect(proxy, 7003);
        Socket changed = connect(proxy, 7004);
        Socket untouched = connect(proxy, 7005);
        for (Socket s : List.of(kept, drained, closed, changed, untouched)) {
            assertThat(echo(s, "hi")).isEqualTo("X:hi");
        }
        Map<Integer, InetSocketAddress> before = proxy.boundAddresses();

        long updatedAt = System.nanoTime();
        RouteUpdate u = proxy.updateRoutes(List.of(
                // a new definition (another backend) whose retirement says close: ROUTE_CHANGED
                tcp("changed", 7004, y).retirement(RouteRetirement.close()).build(),
                // an equal definition with another retirement only: not changed, not touched
                tcp("stable", 7005, x).retirement(RouteRetirement.close()).build()));

        assertThat(u.removed()).containsExactly("kept", "drained", "closed");
        assertThat(u.changed()).containsExactly("changed");
        assertThat(u.unchanged()).containsExactly("stable");
        assertThat(u.added()).isEmpty();
        assertThat(u.portsClosed()).containsExactly(7001, 7002, 7003);
        assertThat(u.portsOpened()).isEmpty();
        assertThat(u.connectionsKept()).isEqualTo(1);
        assertThat(u.connectionsDraining()).isEqualTo(1);
        assertThat(u.connectionsClosed()).isEqualTo(2);
        assertThat(u.noChange()).isFalse();
        assertThat(updates).containsExactly(u);
        assertThat(updateThreads).containsExactly(Thread.currentThread());
        assertThat(proxy.boundAddresses()).isEqualTo(Map.of(7004, before.get(7004), 7005, before.get(7005)));

        assertThat(awaitClosedOn("closed").closeReason()).contains(CloseReason.ROUTE_REMOVED);
        assertThat(awaitClosedOn("changed").closeReason()).contains(CloseReason.ROUTE_CHANGED);
        assertThat(closed.getInputStream().read()).isEqualTo(-1);
        // The drained one still works until its deadline, then closes with the reason.
        assertThat(echo(drained, "still")).isEqualTo("X:still");
        ConnectionInfo drainedInfo = awaitClosedOn("drained");
        assertThat(System.nanoTime() - updatedAt).isGreaterThanOrEqualTo(drain.toNanos());
        assertThat(drainedInfo.closeReason()).contains(CloseReason.ROUTE_REMOVED);
        // Kept (the default) and untouched connections live on, on their old routes.
        assertThat(echo(kept, "kept")).isEqualTo("X:kept");
        assertThat(echo(untouched, "same")).isEqualTo("X:same");
        assertThat(events.closed()).hasSize(3);
        assertThat(proxy.connections()).extracting(c -> c.routeName().orElseThrow())
                .containsExactlyInAnyOrder("kept", "stable");
        // New connections on the changed route go where its new definition says.
        assertThat(echo(connect(proxy, 7004), "new")).isEqualTo("Y:new");
        assertThat(proxy.stats().closed(CloseReason.ROUTE_REMOVED)).isEqualTo(2);
        assertThat(proxy.stats().closed(CloseReason.ROUTE_CHANGED)).isEqualTo(1);
    }

    @Test
    void aBadUpdateThrowsBuildsMessageAndChangesNothing() throws Exception {
        SmartProxy proxy = start(tcp("a", 7010, x).build());
        Socket c = connect(proxy, 7010);
        assertThat(echo(c, "1")).isEqualTo("X:1");
        RouteTable table = proxy.routes();
        Map<Integer, InetSocketAddress> bound = proxy.boundAddresses();
        List<Long> ids = ids(proxy);

        Route terminate = Route.named("t").match(m -> m.ports(7011).domains("t.test"))
                .forward(f -> f.target("127.0.0.1", 1).tls(TlsMode.TERMINATE)).build();
        String noCertificate = buildMessage(tcp("b", 7012, y).build(), terminate);
        assertThat(noCertificate).contains("needs a certificate");
        assertThatThrownBy(() -> proxy.updateRoutes(List.of(tcp("b", 7012, y).build(), terminate)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(noCertificate);

        String duplicate = buildMessage(tcp("a", 7010, x).build(), tcp("a", 7013, y).build());
        assertThat(duplicate).contains("used twice");
        assertThatThrownBy(() -> proxy.updateRoutes(List.of(tcp("a", 7010, x).build(), tcp("a", 7013, y).build())))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(duplicate);

        assertThatThrownBy(() -> proxy.updateRoutes(List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("routes: none (expected: at least one route)");
        assertThatThrownBy(() -> proxy.updateRoutes(List.of(tcp("a", 7010, x).build()),
                Map.of(9, new InetSocketAddress(LOOPBACK, 0))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("listen routePort: 9 (expected: a port some route uses: 7010)");
        assertThatThrownBy(() -> proxy.updateRoutes(List.of(tcp("a", 7010, x).build()),
                Map.of(7010, new InetSocketAddress(LOOPBACK, 1))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("listen routePort: 7010 -> ");
        assertThatThrownBy(() -> proxy.updateRoutes(List.of(tcp("a", 7010, x).build()),
                Map.of(70000, new InetSocketAddress(LOOPBACK, 0))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("listen routePort: 70000 (expected: 1..65535)");

        // A port that cannot be bound: the update throws and nothing stays bound or changes.
        try (ServerSocket taken = new ServerSocket(0, 50, LOOPBACK)) {
            assertThatThrownBy(() -> proxy.updateRoutes(
                    List.of(tcp("a", 7010, x).build(), tcp("b", 7014, y).build(), tcp("c", 7015, y).build()),
                    Map.of(7014, new InetSocketAddress(LOOPBACK, 0),
                            7015, new InetSocketAddress(LOOPBACK, taken.getLocalPort()))))
                    .isInstanceOf(UncheckedIOException.class).hasMessageContaining("route port 7015");
        }

        assertThat(proxy.routes()).isSameAs(table);
        assertThat(proxy.boundAddresses()).isEqualTo(bound);
        assertThat(ids(proxy)).isEqualTo(ids);
        assertThat(echo(c, "2")).isEqualTo("X:2");
        assertThat(updates).isEmpty();
        assertThat(events.closed()).isEmpty();
    }

    private static String buildMessage(Route... routes) {
        try {
            SmartProxy.builder().routes(List.of(routes)).build();
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        throw new AssertionError("build() accepted " + List.of(routes));
    }

    @Test
    void aNewPortAcceptsAsSoonAsTheUpdateReturnsAndARemovedPortRefuses() throws Exception {
        SmartProxy proxy = start(tcp("a", 7020, x).build(), tcp("b", 7021, x).build());
        InetSocketAddress removed = proxy.boundAddress(7021);
        Socket onRemoved = connect(proxy, 7021);
        assertThat(echo(onRemoved, "1")).isEqualTo("X:1");

        RouteUpdate u = proxy.updateRoutes(List.of(tcp("a", 7020, x).build(), tcp("c", 7022, y).build()),
                Map.of(7022, new InetSocketAddress(LOOPBACK, 0)));
        assertThat(u.portsOpened()).containsExactly(7022);
        assertThat(u.portsClosed()).containsExactly(7021);
        assertThat(u.added()).containsExactly("c");
        assertThat(u.removed()).containsExactly("b");

        assertThat(echo(connect(proxy, 7022), "new")).isEqualTo("Y:new");
        assertThatThrownBy(() -> {
            try (Socket s = new Socket()) {
                s.connect(removed, 2000);
            }
        }).isInstanceOf(ConnectException.class);
        assertThatThrownBy(() -> proxy.boundAddress(7021)).isInstanceOf(IllegalArgumentException.class);
        // The connection of the removed route is kept (the default retirement).
        assertThat(echo(onRemoved, "2")).isEqualTo("X:2");
        assertThat(u.connectionsKept()).isEqualTo(1);
    }

    @Test
    void anIdenticalUpdateTouchesNothingAndIsStillReported() throws Exception {
        SmartProxy proxy = start(tcp("a", 7030, x).build(), tcp("b", 7031, y).build());
        Socket a = connect(proxy, 7030);
        Socket b = connect(proxy, 7031);
        assertThat(echo(a, "1")).isEqualTo("X:1");
        assertThat(echo(b, "1")).isEqualTo("Y:1");
        RouteTable table = proxy.routes();
        Map<Integer, InetSocketAddress> bound = proxy.boundAddresses();
        List<Long> ids = ids(proxy);

        // Equal routes (new objects) in the same order, the addresses the ports are bound with.
        RouteUpdate u = proxy.updateRoutes(List.of(tcp("a", 7030, x).build(), tcp("b", 7031, y).build()));
        assertThat(u.noChange()).isTrue();
        assertThat(u.unchanged()).containsExactly("a", "b");
        assertThat(u.added()).isEmpty();
        assertThat(u.portsOpened()).isEmpty();
        assertThat(u.portsClosed()).isEmpty();
        assertThat(proxy.routes()).isSameAs(table);
        assertThat(proxy.boundAddresses()).isEqualTo(bound);
        assertThat(ids(proxy)).isEqualTo(ids);
        assertThat(updates).containsExactly(u);
        assertThat(echo(a, "2")).isEqualTo("X:2");
        assertThat(echo(b, "2")).isEqualTo("Y:2");
        assertThat(events.closed()).isEmpty();
    }

    @Test
    void updatesNeedAStartedProxy() {
        SmartProxy built = SmartProxy.builder().route(tcp("a", 7040, x)).build();
        List<Route> routes = List.of(tcp("a", 7040, x).build());
        assertThatThrownBy(() -> built.updateRoutes(routes)).isInstanceOf(IllegalStateException.class)
                .hasMessage("updateRoutes(...): the proxy is built (expected: started)");
        SmartProxy started = start(tcp("a", 7041, x).build());
        started.close();
        assertThatThrownBy(() -> started.updateRoutes(routes)).isInstanceOf(IllegalStateException.class)
                .hasMessage("updateRoutes(...): the proxy is closed (expected: started)");
        assertThat(new ArrayList<>(updates)).isEmpty();
    }
}
