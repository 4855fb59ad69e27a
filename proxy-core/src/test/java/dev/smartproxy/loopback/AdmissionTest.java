package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Admission over real sockets, from several client addresses (clients bound to 127.0.0.2,
 * 127.0.0.3, ...): proxy-wide and route IP rules, per-IP and rate limits, a route's maximum,
 * 403/429 on HTTP routes with the connection kept, and the proxy-wide maximum holding a client in
 * the backlog until another closes.
 */
class AdmissionTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private TestServer echo;
    private SmartProxy proxy;
    private int port;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A proxy on route port 9000 relaying plain TCP to an echo server. */
    private void echoProxy(Consumer<SmartProxy.Builder> tune, Consumer<Route.Builder> route) {
        echo = closer.keep(TestServer.plain("echo", s -> s.getInputStream().transferTo(s.getOutputStream())));
        Route.Builder r = Route.named("echo").match(m -> m.ports(9000)).forward(f -> f.target("127.0.0.1", echo.port()));
        route.accept(r);
        SmartProxy.Builder b = SmartProxy.builder().listener(events).route(r);
        tune.accept(b);
        proxy = closer.keep(Proxies.start(b, 9000));
        port = Proxies.port(proxy, 9000);
    }

    private Socket from(String localIp) throws IOException {
        Socket s = new Socket();
        closer.keep(s);
        s.bind(new InetSocketAddress(localIp, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    private static void assertEchoes(Socket s) throws IOException {
        s.getOutputStream().write('x');
        s.getOutputStream().flush();
        assertThat(s.getInputStream().read()).isEqualTo('x');
    }

    private static void assertClosedByProxy(Socket s) throws IOException {
        try {
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the proxy did not close the connection", e);
        } catch (IOException e) {
            assertThat(e).hasMessageContaining("reset");
        }
    }

    private ConnectionInfo awaitClosedWith(CloseReason reason) {
        Await.until("a close with " + reason + " (closed: " + events.closed() + ")",
                () -> events.closed().stream().anyMatch(c -> c.closeReason().orElse(null) == reason));
        return events.closed().stream().filter(c -> c.closeReason().orElse(null) == reason).findFirst().orElseThrow();
    }

    @Test
    void concurrentConnectionsPerIpAreLimitedAndFreedOnClose() throws Exception {
        echoProxy(b -> b.maxConnectionsPerIp(2), r -> { });
        Socket a1 = from("127.0.0.2");
        Socket a2 = from("127.0.0.2");
        assertEchoes(a1);
        assertEchoes(a2);
        Socket a3 = from("127.0.0.2");
        assertClosedByProxy(a3);
        ConnectionInfo refused = awaitClosedWith(CloseReason.IP_CONNECTION_LIMIT);
        assertThat(refused.clientAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.2");
        assertEchoes(from("127.0.0.3"));
        a1.close();
        Await.until("a1 closed at the proxy", () -> proxy.stats().open() == 2);
        assertEchoes(from("127.0.0.2"));
        assertThat(proxy.stats().closed(CloseReason.IP_CONNECTION_LIMIT)).isEqualTo(1);
        assertThat(echo.connections()).as("the refused connection never reached the backend").isEqualTo(4);
    }

    @Test
    void newConnectionsPerIpPerMinuteAreRateLimited() throws Exception {
        echoProxy(b -> b.connectionRateLimitPerMinute(3), r -> { });
        for (int i = 0; i < 3; i++) {
            try (Socket s = from("127.0.0.4")) {
                assertEchoes(s);
            }
        }
        assertClosedByProxy(from("127.0.0.4"));
        awaitClosedWith(CloseReason.RATE_LIMITED);
        assertEchoes(from("127.0.0.5"));
        assertThat(proxy.stats().closed(CloseReason.RATE_LIMITED)).isEqualTo(1);
        assertThat(echo.connections()).isEqualTo(4);
    }

    @Test
    void proxyWideRulesCloseAtAcceptAndBlockWins() throws Exception {
        echoProxy(b -> b.ipAllowList("127.0.0.0/29").ipBlockList("127.0.0.6"), r -> { });
        assertClosedByProxy(from("127.0.0.6"));
        assertClosedByProxy(from("127.0.0.9"));
        Await.until("two refusals", () -> proxy.stats().closed(CloseReason.IP_BLOCKED) == 2);
        assertEchoes(from("127.0.0.7"));
        assertThat(echo.connections()).isEqualTo(1);
        assertThat(events.closed()).allSatisfy(c -> assertThat(c.bytesFromClient()).isZero());
    }

    @Test
    void aRoutesListsAndMaximumCloseWhenTheRouteIsChosen() throws Exception {
        echoProxy(b -> { }, r -> r.security(s -> s.ipAllowList("127.0.0.8", "127.0.0.10").ipBlockList("127.0.0.10")
                .maxConnections(1)));
        assertClosedByProxy(from("127.0.0.9"));
        assertClosedByProxy(from("127.0.0.10"));
        Await.until("two refusals", () -> proxy.stats().closed(CloseReason.IP_BLOCKED) == 2);
        Socket ok = from("127.0.0.8");
        assertEchoes(ok);
        assertClosedByProxy(from("127.0.0.8"));
        awaitClosedWith(CloseReason.ROUTE_CONNECTION_LIMIT);
        ok.close();
        Await.until("the route's place freed", () -> proxy.stats().open() == 0);
        assertEchoes(from("127.0.0.8"));
        assertThat(echo.connections()).isEqualTo(2);
    }

    @Test
    void anHttpRouteAnswers403And429AndKeepsTheConnectionForOtherHosts() throws Exception {
        HttpEchoServer a = closer.keep(new HttpEchoServer("site-a"));
        HttpEchoServer b = closer.keep(new HttpEchoServer("site-b"));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("a").match(m -> m.ports(80).domains("a.test"))
                        .security(s -> s.ipBlockList("127.0.0.11"))
                        .forward(f -> f.target("127.0.0.1", a.port()).http()))
                .route(Route.named("b").match(m -> m.ports(80).domains("b.test"))
                        .security(s -> s.maxConnections(1))
                        .forward(f -> f.target("127.0.0.1", b.port()).http())), 80));
        port = Proxies.port(proxy, 80);

        Socket blocked = from("127.0.0.11");
        assertThat(get(blocked, "a.test").get(":status")).isEqualTo("403");
        assertThat(get(blocked, "b.test").get(":status")).as("same connection, another host").isEqualTo("200");
        // blocked now holds route b's only place.
        Socket other = from("127.0.0.12");
        Map<String, String> tooMany = get(other, "b.test");
        assertThat(tooMany.get(":status")).isEqualTo("429");
        assertThat(tooMany.get("retry-after")).isEqualTo("1");
        assertThat(get(other, "a.test").get(":status")).isEqualTo("200");
        blocked.close();
        Await.until("route b's place freed", () -> proxy.stats().open() == 1);
        assertThat(get(other, "b.test").get(":status")).isEqualTo("200");
        assertThat(a.requests()).isEqualTo(1);
        assertThat(b.requests()).isEqualTo(2);
        assertThat(proxy.stats().refusedRequests(CloseReason.IP_BLOCKED)).isEqualTo(1);
        assertThat(proxy.stats().refusedRequests(CloseReason.ROUTE_CONNECTION_LIMIT)).isEqualTo(1);
    }

    @Test
    void aKeepAliveConnectionHoldsAPlaceOnlyOnTheRouteOfItsLatestRequest() throws Exception {
        HttpEchoServer a = closer.keep(new HttpEchoServer("site-a"));
        HttpEchoServer b = closer.keep(new HttpEchoServer("site-b"));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("a").match(m -> m.ports(80).domains("a.test"))
                        .security(s -> s.maxConnections(1))
                        .forward(f -> f.target("127.0.0.1", a.port()).http()))
                .route(Route.named("b").match(m -> m.ports(80).domains("b.test"))
                        .security(s -> s.maxConnections(1))
                        .forward(f -> f.target("127.0.0.1", b.port()).http())), 80));
        port = Proxies.port(proxy, 80);

        Socket visitor = from("127.0.0.13");
        assertThat(get(visitor, "a.test").get(":status")).isEqualTo("200");
        assertThat(get(visitor, "b.test").get(":status")).as("it moves to b and gives a's place back").isEqualTo("200");
        Socket next = from("127.0.0.14");
        assertThat(get(next, "a.test").get(":status")).as("a's only place is free again").isEqualTo("200");
        assertThat(get(next, "b.test").get(":status")).as("b's is still the visitor's").isEqualTo("429");
        assertThat(get(visitor, "a.test").get(":status")).as("a is now the other's").isEqualTo("429");
        assertThat(get(visitor, "b.test").get(":status")).as("the refused request kept b's place").isEqualTo("200");
    }

    @Test
    void atTheProxyWideMaximumAClientWaitsInTheBacklogUntilAnotherCloses() throws Exception {
        echoProxy(b -> b.maxConnections(2), r -> { });
        Socket a = from("127.0.0.2");
        Socket b = from("127.0.0.3");
        assertEchoes(a);
        assertEchoes(b);
        Socket waiting = from("127.0.0.4"); // the kernel completes the handshake; the proxy does not accept
        waiting.getOutputStream().write('w');
        waiting.setSoTimeout(300);
        assertThat(readOrTimeout(waiting)).as("not served at the maximum").isEqualTo(-2);
        assertThat(proxy.stats().accepted()).isEqualTo(2);
        a.close();
        waiting.setSoTimeout(10_000);
        assertThat(waiting.getInputStream().read()).as("served once another closed").isEqualTo('w');
        assertThat(proxy.stats().accepted()).isEqualTo(3);
        assertThat(proxy.stats().closedTotal() - proxy.stats().closed(CloseReason.CLIENT_CLOSED)).isZero();
    }

    @Test
    void everyAdmittedPermitIsReleasedExactlyOnceAndAFailingLimiterAdmits() throws Exception {
        java.util.Set<Object> held = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.concurrent.atomic.AtomicInteger acquired = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger releasedTwice = new java.util.concurrent.atomic.AtomicInteger();
        dev.smartproxy.config.ConnectionLimiter counting = new dev.smartproxy.config.ConnectionLimiter() {
            @Override
            public Decision acquire(java.net.InetAddress client) {
                if (client.getHostAddress().equals("127.0.0.13")) {
                    throw new IllegalStateException("the store is down");
                }
                Object token = new Object();
                held.add(token);
                acquired.incrementAndGet();
                return Decision.admit(token);
            }

            @Override
            public void release(Decision admitted) {
                if (!held.remove(admitted.token())) {
                    releasedTwice.incrementAndGet();
                }
            }
        };
        echoProxy(b -> b.admission(a -> a.limiter(counting)), r -> r.security(s -> s.ipBlockList("127.0.0.3")));
        Socket a = from("127.0.0.2");
        assertEchoes(a);
        assertClosedByProxy(from("127.0.0.3")); // admitted at accept, refused by the route
        assertEchoes(from("127.0.0.13"));
        a.close();
        closer.close();
        Await.until("every permit released", held::isEmpty);
        assertThat(acquired.get()).isEqualTo(2);
        assertThat(releasedTwice.get()).isZero();
    }

    private static int readOrTimeout(Socket s) throws IOException {
        try {
            return s.getInputStream().read();
        } catch (SocketTimeoutException e) {
            return -2;
        }
    }

    /** Sends a keep-alive GET for {@code host} and reads the response: headers (lower-case) and ":status". */
    private static Map<String, String> get(Socket s, String host) throws IOException {
        s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        Map<String, String> head = new LinkedHashMap<>();
        String status = line(in);
        head.put(":status", status.split(" ")[1]);
        for (String l = line(in); !l.isEmpty(); l = line(in)) {
            int colon = l.indexOf(':');
            head.put(l.substring(0, colon).strip().toLowerCase(Locale.ROOT), l.substring(colon + 1).strip());
        }
        int length = Integer.parseInt(head.getOrDefault("content-length", "0"));
        assertThat(in.readNBytes(length)).hasSize(length);
        return head;
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed mid-response");
            }
            if (c != '\r') {
                out.write(c);
            }
        }
        return out.toString(StandardCharsets.US_ASCII);
    }
}
