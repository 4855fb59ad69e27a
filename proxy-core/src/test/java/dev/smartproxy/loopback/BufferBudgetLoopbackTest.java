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

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Many clients send a lot to a backend whose connect never completes: what the proxy holds for
 * them stays bounded (per connection and proxy-wide), they are paused rather than closed,
 * another route keeps being served, and when the connects fail everything is released.
 */
class BufferBudgetLoopbackTest {
    private static final int CLIENTS = 8;
    /** Far more than the kernel's socket buffers on both sides can absorb. */
    private static final long SENT = 64L << 20;

    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final List<Socket> attackers = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it hangs. */
    private int hangingBackend() throws IOException {
        ServerSocket full = closer.keep(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
        for (int i = 0; i < 16; i++) {
            Socket f = new Socket();
            try {
                f.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), full.getLocalPort()), 200);
                closer.keep(f);
            } catch (SocketTimeoutException e) {
                f.close();
                break; // the queue is full
            }
        }
        return full.getLocalPort();
    }

    private SmartProxy proxy(Consumer<SmartProxy.Builder> tune) throws IOException {
        int hang = hangingBackend();
        TestServer echo = closer.keep(TestServer.plain("echo", s -> s.getInputStream().transferTo(s.getOutputStream())));
        SmartProxy.Builder b = SmartProxy.builder().listener(events)
                .connectTimeout(Duration.ofSeconds(5))
                .route(Route.named("slow").match(m -> m.ports(25)).forward(f -> f.target("127.0.0.1", hang)))
                .route(Route.named("healthy").match(m -> m.ports(26)).forward(f -> f.target("127.0.0.1", echo.port())));
        tune.accept(b);
        return closer.keep(Proxies.start(b, 25, 26));
    }

    /** Opens the attacking clients; each writes {@link #SENT} bytes from its own thread. */
    private List<Thread> attack(SmartProxy proxy) throws IOException {
        List<Thread> writers = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Socket s = closer.keep(TlsClients.plain(Proxies.port(proxy, 25)));
            attackers.add(s);
            Thread t = new Thread(() -> {
                byte[] chunk = new byte[64 * 1024];
                try {
                    for (long n = 0; n < SENT; n += chunk.length) {
                        s.getOutputStream().write(chunk);
                    }
                } catch (IOException expected) {
                    // the proxy closes the connection when the connect times out
                }
            }, "attacker-" + i);
            t.setDaemon(true);
            t.start();
            writers.add(t);
        }
        Await.until(CLIENTS + " connections routed", () -> events.routed().size() >= CLIENTS);
        return writers;
    }

    private static long taken(SmartProxy proxy) {
        return proxy.connections().stream().mapToLong(ConnectionInfo::bytesFromClient).sum();
    }

    /** Bytes taken from the attackers at {@code from} (inclusive) to {@code to} (exclusive). */
    private long taken(SmartProxy proxy, int from, int to) {
        List<Integer> ports = attackers.subList(from, to).stream().map(Socket::getLocalPort).toList();
        return proxy.connections().stream().filter(c -> ports.contains(c.clientAddress().getPort()))
                .mapToLong(ConnectionInfo::bytesFromClient).sum();
    }

    private static long buffered(SmartProxy proxy) {
        return proxy.connections().stream().mapToLong(ConnectionInfo::bufferedBytes).sum();
    }

    private static void assertHealthyRouteServes(SmartProxy proxy) throws IOException {
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 26))) {
            s.setSoTimeout(5_000);
            TlsClients.writeLine(s, "still served");
            assertThat(TlsClients.readLine(s.getInputStream())).isEqualTo("still served");
        }
    }

    @Test
    void pendingDataPerConnectionIsSmallByDefault() throws Exception {
        SmartProxy proxy = proxy(b -> { });
        List<Thread> writers = attack(proxy);
        Await.until("every client read up to the pending cap", () -> proxy.connections().stream()
                .filter(c -> c.routeName().orElse("").equals("slow"))
                .filter(c -> c.bytesFromClient() >= 64 * 1024).count() == CLIENTS);
        long settled = Await.settled("bytes taken from the clients", Duration.ofMillis(300), Duration.ofSeconds(3),
                () -> taken(proxy));
        long held = buffered(proxy);
        // 64 KiB per connection, passed by at most one socket read
        assertThat(held).as("bytes held for %d clients (taken in: %d)", CLIENTS, settled)
                .isLessThanOrEqualTo(CLIENTS * (64L * 1024 + 64 * 1024));
        assertThat(proxy.bufferedBytes()).as("budget vs registry: %s", proxy.connections()).isEqualTo(held);
        assertThat(proxy.stats().open()).as("paused, not closed").isEqualTo(CLIENTS);
        assertThat(writers).allMatch(Thread::isAlive);
        assertHealthyRouteServes(proxy);

        events.awaitClosed(CLIENTS + 1);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.CONNECT_TIMEOUT)).isEqualTo(CLIENTS);
        assertThat(proxy.bufferedBytes()).isZero();
    }

    @Test
    void theProxyWideBudgetPausesClientsBeforeTheirOwnCapAndReleasesEverythingWhenTheConnectsFail()
            throws Exception {
        long budget = 256 * 1024;
        SmartProxy proxy = proxy(b -> b.maxPendingDataSize(1 << 20).bufferBudget(budget));
        List<Thread> writers = attack(proxy);
        Await.until("the budget filled", () -> proxy.bufferedBytes() > budget);
        long settled = Await.settled("bytes taken from the clients", Duration.ofMillis(300), Duration.ofSeconds(3),
                () -> taken(proxy));
        long held = proxy.bufferedBytes();
        // Each connection could hold 1 MiB on its own (8 MiB in all); the budget stops them at
        // its limit, passed by at most one socket read (64 KiB) per connection.
        assertThat(held).as("bytes held proxy-wide (taken in: %d)", settled)
                .isLessThanOrEqualTo(budget + CLIENTS * 64L * 1024);
        assertThat(buffered(proxy)).as("the registry's view").isEqualTo(held);
        assertThat(proxy.connections()).as("each connection's share").allMatch(c -> c.bufferedBytes() < (1 << 20));
        assertThat(proxy.stats().open()).as("paused, not closed").isEqualTo(CLIENTS);
        assertThat(writers).allMatch(Thread::isAlive);
        assertHealthyRouteServes(proxy);
        assertThat(proxy.stats().closed(CloseReason.CONNECT_TIMEOUT)).as("no attacker closed yet").isZero();

        events.awaitClosed(CLIENTS + 1);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.CONNECT_TIMEOUT)).isEqualTo(CLIENTS);
        assertThat(proxy.bufferedBytes()).as("everything released").isZero();
        for (Thread w : writers) {
            w.join(10_000);
        }
    }

    @Test
    void resettingPausedClientsReleasesTheirBytesAndWakesTheOthers() throws Exception {
        long budget = 256 * 1024;
        SmartProxy proxy = proxy(b -> b.maxPendingDataSize(1 << 20).bufferBudget(budget));
        attack(proxy);
        Await.until("the budget filled", () -> proxy.bufferedBytes() > budget);
        Await.settled("bytes taken from the clients", Duration.ofMillis(300), Duration.ofSeconds(3),
                () -> taken(proxy));
        // Keep the two clients that got least (paused early, above their floor), reset the rest:
        // what is left held is then under the limit, and the kept ones must be woken.
        Map<Socket, Long> got = new HashMap<>();
        for (int i = 0; i < CLIENTS; i++) {
            got.put(attackers.get(i), taken(proxy, i, i + 1));
        }
        attackers.sort(Comparator.comparingLong(got::get));
        int kept = 2;
        long before = taken(proxy, 0, kept);
        assertThat(before).as("the kept clients hold more than their floors").isGreaterThan(kept * 16L * 1024);
        for (Socket s : attackers.subList(kept, CLIENTS)) {
            s.setSoLinger(true, 0);
            s.close(); // a reset: the proxy drops what it held for them
        }
        Await.until("the reset connections closed", () -> proxy.stats().closed(CloseReason.CLIENT_RESET) == CLIENTS - kept);
        Await.until("the paused clients woken and read again (had " + before + ")",
                () -> taken(proxy, 0, kept) > before);
        Await.settled("bytes taken from the clients kept", Duration.ofMillis(300), Duration.ofSeconds(3),
                () -> taken(proxy, 0, kept));
        // Each kept client may pass the limit by a socket read at each wake-up that found room
        // (two at most here: one as the budget drains, one as the others' bytes go): a bound of
        // the budget's size, where the clients alone could hold 2 MiB.
        assertThat(proxy.bufferedBytes()).as("still bounded by the budget")
                .isLessThanOrEqualTo(budget + kept * 2 * 64L * 1024);
        assertThat(buffered(proxy)).isEqualTo(proxy.bufferedBytes());
        assertThat(proxy.stats().open()).isEqualTo(kept);

        events.awaitClosed(CLIENTS);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.CONNECT_TIMEOUT)).isEqualTo(kept);
        assertThat(proxy.bufferedBytes()).isZero();
    }
}
