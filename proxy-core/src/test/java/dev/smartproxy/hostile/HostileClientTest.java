package dev.smartproxy.hostile;

import dev.smartproxy.hostile.Attackers.Flood;
import dev.smartproxy.hostile.Attackers.TlsClient;
import dev.smartproxy.hostile.ChildProxy.Conns;
import dev.smartproxy.hostile.ChildProxy.Stats;
import dev.smartproxy.testing.Await;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The hostile-client tier (issue 7): the proxy runs in a child JVM with a small heap and
 * direct-memory limit ({@link ChildProxy#JVM_OPTIONS}), configured in one place
 * ({@link HostileProxyMain#proxyConfig}). Each attack runs for a bounded time while a
 * {@link HealthyClient} keeps using another route; then, with the attackers still connected, and
 * again after they have gone:
 * <ul>
 *   <li>live heap at most {@link #HEAP_BOUND} and direct memory at most {@link #DIRECT_BOUND};</li>
 *   <li>no {@code OutOfMemoryError} and no Netty {@code LEAK:} line in anything the child printed;</li>
 *   <li>every healthy request served (within {@link HealthyClient#TIMEOUT});</li>
 *   <li>the proxy's open connections, and the backends' open legs, back to zero once the
 *       attackers close (or, where the attack says so, before).</li>
 * </ul>
 * A compact summary per attack (memory held, the child's CPU time, healthy latency) goes to the
 * test output and to {@code target/hostile/summary.txt}; everything the child printed, to
 * {@code target/hostile/child-N.log}. An attack that fails leaves the child tainted, and the
 * next attack gets a fresh one, so that each attack is judged on its own.
 *
 * <p>Run alone: {@code mvn -B -o -pl proxy-core test -Dtest=HostileClientTest
 * -Dsurefire.failIfNoSpecifiedTests=false} (or {@code -Dgroups=hostile}).
 */
@Tag("hostile")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostileClientTest {
    /** How long each attacker pushes before the measurement. */
    static final Duration ATTACK_TIME = Duration.ofSeconds(3);
    /** Scheduling slack on a loaded two-core machine, added to every time bound the proxy owns. */
    static final Duration SLACK = Duration.ofSeconds(2);
    /** An abandoned upload (client FIN, request body incomplete) must be closed, both legs, within this. */
    static final Duration FIN_CLOSE_BOUND = Duration.ofSeconds(1);
    /** After the attackers close, the proxy's connection count must be back to zero within this. */
    static final Duration IDLE_DEADLINE = Duration.ofSeconds(10);
    /**
     * Live heap after a full GC, attackers connected or not: half of the child's heap. The child
     * idles at about 20 MiB live (proxy, backends, JDK TLS, the leak detector's records); the
     * heaviest legitimate load of the tier, 64 TLS connections with their backend legs, adds
     * about 5 MiB. What is left for client data is a few MiB: the fixed proxy queues a small,
     * fixed amount per connection and keeps its buffers under {@link HostileProxyMain#BUFFER_BUDGET}
     * (which are mostly direct anyway).
     */
    static final long HEAP_BOUND = ChildProxy.MAX_HEAP / 2;
    /**
     * Direct memory in use: twice the proxy-wide buffer budget (what the budget counts, and as much
     * again for what it does not: the allocator's chunk granularity and free lists, a read per
     * holder past the limit, TLS record buffers on every terminated leg; 26-29 MiB measured on a
     * quiet machine, 33 MiB on a loaded one), plus 8 MiB for reads in flight: 40 MiB of the
     * child's 64 MiB limit. Before the fixes, attacks
     * 5 to 7 each reached 51 to 64 MiB with a handful of attackers, and more attackers held more.
     */
    static final long DIRECT_BOUND = HostileProxyMain.BUFFER_BUDGET * 2 + (8L << 20);

    private static final Path OUT = Path.of("target", "hostile");

    private ChildProxy child;
    private int children;
    private boolean tainted;
    private final List<String> summary = new ArrayList<>();
    /** The attacks the current child has been through. */
    private final List<String> attacksOnThisChild = new ArrayList<>();

    @BeforeEach
    void freshChildIfNeeded() throws IOException {
        if (child != null && child.alive() && !tainted) {
            return;
        }
        if (child != null) {
            child.close();
        }
        children++;
        child = ChildProxy.start(OUT.resolve("child-" + children + ".log"));
        tainted = false;
        attacksOnThisChild.clear();
    }

    @AfterAll
    void stopChild() throws IOException {
        if (child != null) {
            child.close();
        }
        String all = String.join("\n", summary);
        Files.createDirectories(OUT);
        Files.writeString(OUT.resolve("summary.txt"), all + "\n", StandardCharsets.UTF_8);
        System.out.println("[hostile] summary (child JVM " + String.join(" ", ChildProxy.JVM_OPTIONS) + "):\n" + all);
    }

    // ------------------------------------------------------------------ the fixture

    @Test
    @Order(0)
    void everyRouteOfTheFixtureAnswersAsConfigured() throws Exception {
        int http = child.port("http");
        assertThat(localAnswer(http, "redirect.test")).startsWith("HTTP/1.1 308").contains("location: https://redirect.test/x");
        assertThat(localAnswer(http, "block.test")).startsWith("HTTP/1.1 403");
        assertThat(localAnswer(http, "nohost.test")).startsWith("HTTP/1.1 404");
        try (TlsClient app = TlsClient.connect(child.port("tls"), "app.test")) {
            app.write("GET /hello HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(app.in.readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200")
                    .contains("app ok /hello");
        }
        try (TlsClient ws = TlsClient.connect(child.port("tls"), "ws.test")) {
            ws.write(Attackers.webSocketUpgrade("ws.test"));
            assertThat(Attackers.readHead(ws.in)).startsWith("HTTP/1.1 101");
        }
        try (TlsClient pass = TlsClient.connect(child.port("tls"), "pass.test")) {
            pass.write("echo\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(pass.in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("echo\n");
        }
        try (Socket stuck = new Socket()) {
            stuck.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), child.port("tcp")), 5000);
            stuck.getOutputStream().write("pending".getBytes(StandardCharsets.US_ASCII));
            Await.until("the proxy holding the connection to the stuck backend", () -> child.conns().openAttack() == 1);
            stuck.setSoTimeout(500);
            // The backend connect is still in flight: the proxy neither answers nor closes.
            assertThatThrownBy(() -> stuck.getInputStream().read())
                    .isInstanceOf(SocketTimeoutException.class);
            stuck.setSoLinger(true, 0); // a reset: the proxy drops the connect at once (a FIN would wait for it)
        }
        try (HealthyClient healthy = HealthyClient.start(child.port("healthy"))) {
            Await.until("three healthy requests served", () -> healthy.served() >= 3);
            assertThat(healthy.stop().failures()).isEmpty();
        }
        awaitNoConnection();
        assertThat(child.alarms()).isEmpty();
    }

    private void awaitNoConnection() {
        try {
            Await.until("no open connection", IDLE_DEADLINE, () -> child.conns().open() == 0);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + ": " + child.conns(), e);
        }
    }

    /** The head of the proxy's own answer to {@code GET /x} for {@code host}, header names in lower case. */
    private static String localAnswer(int port, String host) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            int c;
            while (head.indexOf("\r\n\r\n") < 0 && (c = in.read()) >= 0) {
                head.append((char) c);
            }
            String h = head.toString();
            int eol = h.indexOf("\r\n");
            return eol < 0 ? h : h.substring(0, eol) + h.substring(eol).toLowerCase(Locale.ROOT);
        }
    }

    // ------------------------------------------------------------------ the attacks

    /** 1. Pipelined requests the proxy answers itself (308, 404, 403), never read. */
    @Test
    @Order(1)
    void pipelinedRequestsAnsweredLocallyAndNeverRead() {
        attack("1 pipelined 308/404/403, never read", p -> {
            String[] hosts = {"redirect.test", "nohost.test", "block.test"};
            try (Flood flood = new Flood(child.port("http"), hosts.length, i -> Attackers.pipelinedGets(hosts[i], 256),
                    true, true)) {
                flood.pushFor(ATTACK_TIME);
                p.note("%.1f MB of requests from %d connections (%d closed by the proxy)", flood.written / 1e6,
                        flood.opened(), flood.closedByPeer);
                p.held();
            }
        });
    }

    /** 2. A backend streaming 100 Continue heads to a client that does not read. */
    @Test
    @Order(2)
    void endlessInterimResponsesToAClientThatDoesNotRead() {
        attack("2 endless 100 Continue, never read", p -> {
            List<TlsClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    TlsClient c = TlsClient.connect(child.port("tls"), "app.test");
                    clients.add(c);
                    c.write("GET /continue HTTP/1.1\r\nHost: app.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                p.window(ATTACK_TIME);
                p.held();
            } finally {
                clients.forEach(TlsClient::close);
            }
        });
    }

    /** 3. Abandoned uploads: part of a request body, then a client FIN. Both legs must go at once. */
    @Test
    @Order(3)
    void abandonedUploadsAreClosedOnTheClientFin() {
        attack("3 abandoned uploads (FIN mid-body)", p -> {
            int n = 64;
            byte[] head = ("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: 1048576\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] part = new byte[16 * 1024];
            List<TlsClient> clients = new ArrayList<>();
            ExecutorService readers = Executors.newFixedThreadPool(n);
            AtomicLongArray finAt = new AtomicLongArray(n);
            AtomicLongArray endAt = new AtomicLongArray(n);
            try {
                for (int i = 0; i < n; i++) {
                    TlsClient c = TlsClient.connect(child.port("tls"), "app.test");
                    clients.add(c);
                    c.write(head);
                    c.write(part);
                }
                for (int i = 0; i < n; i++) {
                    TlsClient c = clients.get(i);
                    int k = i;
                    finAt.set(k, System.nanoTime());
                    c.fin();
                    readers.execute(() -> {
                        Attackers.readToEnd(c.in);
                        endAt.set(k, System.nanoTime());
                    });
                }
                long lastFin = System.nanoTime();
                p.awaitQuietly("every abandoned upload closed, both legs", FIN_CLOSE_BOUND, () -> {
                    Conns c = child.conns();
                    return ended(endAt) == n && c.openAttack() == 0 && c.appBackendOpen() == 0;
                });
                int late = 0;
                for (int i = 0; i < n; i++) {
                    long end = endAt.get(i);
                    if (end == 0 || end - finAt.get(i) > FIN_CLOSE_BOUND.toNanos()) {
                        late++;
                    }
                }
                Conns c = child.conns();
                p.check(late == 0, "%d of %d abandoned uploads still open %d ms after their FIN (bound %d ms); "
                                + "the proxy holds %d attack connections and %d app backend legs", late, n,
                        (System.nanoTime() - lastFin) / 1_000_000, FIN_CLOSE_BOUND.toMillis(), c.openAttack(),
                        c.appBackendOpen());
                p.held();
            } finally {
                clients.forEach(TlsClient::close);
                readers.shutdownNow();
            }
        });
    }

    /** 4. A request body trickling one byte every {@link HostileProxyMain#SLOW_BODY_GAP}. */
    @Test
    @Order(4)
    void aSlowRequestBodyIsClosedByTheBodyTimeout() {
        Duration bound = HostileProxyMain.BODY_TIMEOUT.plus(SLACK);
        attack("4 slow body (1 byte / " + HostileProxyMain.SLOW_BODY_GAP.toMillis() + " ms)", p -> {
            int n = 4;
            byte[] head = ("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100000\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            List<TlsClient> clients = new ArrayList<>();
            ExecutorService threads = Executors.newFixedThreadPool(2 * n);
            AtomicLongArray startAt = new AtomicLongArray(n);
            AtomicLongArray endAt = new AtomicLongArray(n);
            try {
                for (int i = 0; i < n; i++) {
                    clients.add(TlsClient.connect(child.port("tls"), "app.test"));
                }
                for (int i = 0; i < n; i++) {
                    TlsClient c = clients.get(i);
                    int k = i;
                    startAt.set(k, System.nanoTime());
                    c.write(head);
                    threads.execute(() -> {
                        Attackers.readToEnd(c.in);
                        endAt.set(k, System.nanoTime());
                    });
                    threads.execute(() -> trickle(c, startAt.get(k), bound, () -> endAt.get(k) != 0));
                }
                p.awaitQuietly("every slow upload closed within BODY_TIMEOUT + SLACK (" + bound.toMillis()
                        + " ms), both legs", bound, () -> {
                    Conns c = child.conns();
                    return ended(endAt) == n && c.openAttack() == 0 && c.appBackendOpen() == 0;
                });
                int late = 0;
                for (int i = 0; i < n; i++) {
                    long end = endAt.get(i);
                    if (end == 0 || end - startAt.get(i) > bound.toNanos()) {
                        late++;
                    }
                }
                Conns c = child.conns();
                p.check(late == 0, "%d of %d slow uploads still open after %d ms (BODY_TIMEOUT %d ms + slack); "
                                + "the proxy holds %d attack connections and %d app backend legs", late, n,
                        bound.toMillis(), HostileProxyMain.BODY_TIMEOUT.toMillis(), c.openAttack(), c.appBackendOpen());
                p.held();
            } finally {
                clients.forEach(TlsClient::close);
                threads.shutdownNow();
            }
        });
    }

    /** Sends one body byte every SLOW_BODY_GAP until the connection ends or the bound (plus one gap) is over. */
    private static void trickle(TlsClient c, long start, Duration bound, java.util.function.BooleanSupplier ended) {
        long stopAt = start + bound.plus(HostileProxyMain.SLOW_BODY_GAP).toNanos();
        try {
            while (!ended.getAsBoolean() && System.nanoTime() < stopAt && !Thread.currentThread().isInterrupted()) {
                c.write(new byte[] {'x'});
                LockSupport.parkNanos(HostileProxyMain.SLOW_BODY_GAP.toNanos()); // the attacker's pace
            }
        } catch (IOException closed) {
            // the proxy closed it: what the test waits for
        }
    }

    /** 5. Many connections to a backend whose connect never completes, each sending all it can. */
    @Test
    @Order(5)
    void pendingDataWhileTheBackendConnectHangs() {
        attack("5 pending data, connect never completes", p -> {
            try (Flood flood = new Flood(child.port("tcp"), 24, i -> new byte[256 * 1024], true, false)) {
                flood.pushFor(ATTACK_TIME);
                p.note("%.1f MB sent on %d connections (%d closed by the proxy)", flood.written / 1e6, flood.size(),
                        flood.closedByPeer);
                p.held();
            }
        });
    }

    /** 6. ClientHellos in 1-byte TLS records, never finished, on many connections. */
    @Test
    @Order(6)
    void clientHellosInOneByteRecordsLeftHanging() {
        attack("6 ClientHello in 1-byte records, hanging", p -> {
            byte[] hello = Attackers.oneByteRecordClientHello(64_000, 63_000);
            try (Flood flood = new Flood(child.port("tls"), 100, i -> hello, false, false)) {
                flood.pushFor(ATTACK_TIME);
                p.note("%.1f MB of hello records sent on %d connections (%d closed by the proxy)", flood.written / 1e6,
                        flood.size(), flood.closedByPeer);
                p.held();
            }
        });
    }

    /** 7. WebSocket clients through TERMINATE sending most of a large frame, then stalling. */
    @Test
    @Order(7)
    void partialLargeWebSocketFrames() {
        attack("7 WebSocket partial 1 MB frames", p -> {
            int n = 48;
            int announced = 1_000_000;
            int sent = 900_000;
            List<TlsClient> clients = new ArrayList<>();
            ExecutorService writers = Executors.newFixedThreadPool(n);
            AtomicLongArray doneAt = new AtomicLongArray(n);
            try {
                for (int i = 0; i < n; i++) {
                    TlsClient c = TlsClient.connect(child.port("tls"), "ws.test");
                    clients.add(c);
                    c.write(Attackers.webSocketUpgrade("ws.test"));
                    String status = Attackers.readHead(c.in);
                    if (status == null || !status.startsWith("HTTP/1.1 101")) {
                        throw new AssertionError("upgrade " + i + " answered " + status);
                    }
                }
                for (int i = 0; i < n; i++) {
                    TlsClient c = clients.get(i);
                    int k = i;
                    writers.execute(() -> {
                        try {
                            c.write(Attackers.maskedBinaryFrameHeader(announced));
                            byte[] chunk = new byte[64 * 1024];
                            for (int left = sent; left > 0; left -= chunk.length) {
                                c.out.write(chunk, 0, Math.min(left, chunk.length));
                            }
                            c.out.flush();
                        } catch (IOException closed) {
                            // closed by the proxy, or by us at the end
                        }
                        doneAt.set(k, System.nanoTime());
                    });
                }
                p.window(ATTACK_TIME); // the writes end early (kernel buffers take them); the stall is the attack
                p.note("%d of %d clients sent %d of the %d bytes they announced", ended(doneAt), n, sent, announced);
                p.held();
            } finally {
                clients.forEach(TlsClient::close);
                writers.shutdownNow();
            }
        });
    }

    /** After all attacks: the proxy still serves every route, holds nothing, and printed no alarm. */
    @Test
    @Order(8)
    void theProxyEndsTheRunAsItStarted() throws Exception {
        everyRouteOfTheFixtureAnswersAsConfigured();
        Stats end = child.stats();
        summary.add(String.format(Locale.ROOT, "[hostile] end (child #%d, through attacks %s): heap %s, direct %s, "
                        + "open %d, child cpu %.1f s in all", children,
                attacksOnThisChild.isEmpty() ? "none: a fresh child" : String.join(",", attacksOnThisChild),
                AttackPhase.mib(end.heapLive()), AttackPhase.mib(end.direct()), end.open(),
                end.cpu().toMillis() / 1000.0));
        assertThat(end.heapLive()).as("live heap at the end").isLessThanOrEqualTo(HEAP_BOUND);
        assertThat(end.direct()).as("direct memory at the end").isLessThanOrEqualTo(DIRECT_BOUND);
        assertThat(end.open()).isZero();
        assertThat(child.alarms()).as("OutOfMemoryError or LEAK: lines").isEmpty();
    }

    /**
     * The tier's own detectors are not vacuous: a buffer dropped unreleased in the child shows
     * up as a {@code LEAK:} line, a child whose stdin closes (the test JVM died) halts, and a
     * child that runs out of heap exits at once with the {@code OutOfMemoryError} seen.
     */
    @Test
    @Order(9)
    void theTierSeesALeakAnOutOfMemoryErrorAndAnOrphanedChild() throws Exception {
        try (ChildProxy probe = ChildProxy.start(OUT.resolve("selftest-leak.log"))) {
            probe.send("selftest-leak");
            Await.until("a LEAK: line from the child", Duration.ofSeconds(20), () -> {
                probe.stats(); // a GC, then allocations that poll the leak detector
                return probe.alarms().stream().anyMatch(l -> l.contains("LEAK:"));
            });
            probe.closeControl();
            Await.until("the child halting once its stdin closed", () -> !probe.alive());
        }
        try (ChildProxy probe = ChildProxy.start(OUT.resolve("selftest-oom.log"))) {
            probe.send("selftest-oom");
            Await.until("the child exiting on OutOfMemoryError", Duration.ofSeconds(30), () -> !probe.alive());
            assertThat(probe.exitDescription()).startsWith("exit 3");
            Await.until("the OutOfMemoryError line", () -> probe.alarms().stream()
                    .anyMatch(l -> l.contains("OutOfMemoryError")));
        }
    }

    private static int ended(AtomicLongArray at) {
        int n = 0;
        for (int i = 0; i < at.length(); i++) {
            if (at.get(i) != 0) {
                n++;
            }
        }
        return n;
    }

    // ------------------------------------------------------------------ the harness

    @FunctionalInterface
    private interface AttackBody {
        void run(AttackPhase p) throws Exception;
    }

    /**
     * Runs one attack: a baseline, the healthy client, the body (which calls
     * {@link AttackPhase#held} while its attackers are connected), then the checks after the
     * attackers close. A failed attack taints the child: the next attack gets a fresh one.
     */
    private void attack(String name, AttackBody body) {
        AttackPhase p;
        try {
            p = new AttackPhase(child, children, name);
        } catch (RuntimeException | Error e) {
            tainted = true;
            throw e;
        }
        Throwable error = null;
        try {
            body.run(p);
        } catch (Throwable t) {
            error = t;
        }
        summary.add(p.finish(error));
        attacksOnThisChild.add(name.substring(0, name.indexOf(' ')));
        if (!p.passed()) {
            tainted = true;
        }
        p.assertPassed();
    }
}
