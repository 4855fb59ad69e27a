package dev.smartproxy.hostile;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.TestPki;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.pkitesting.X509Bundle;
import io.netty.util.internal.PlatformDependent;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Collectors;

/**
 * The child JVM of the hostile-client tier: the proxy, built with the public
 * {@link SmartProxy#builder()} API only, and its backends ({@link HostileBackends}), in one
 * small-heap process started by {@link HostileClientTest}.
 *
 * <p>Control channel: commands on stdin, one per line; answers on stdout, one line each,
 * starting with {@value #PREFIX}, as {@code key=value} pairs:
 * <ul>
 *   <li>at start: {@code HOSTILE ready http=.. tls=.. tcp=.. healthy=.. pid=..} (the bound ports);</li>
 *   <li>{@code stats}: a full GC, a poll of Netty's leak detector, then live heap, direct memory,
 *       connection counts and CPU time;</li>
 *   <li>{@code conns}: connection counts only (cheap, for polling);</li>
 *   <li>{@code quit}: closes the proxy and exits;</li>
 *   <li>{@code selftest-leak}, {@code selftest-oom}: drop a buffer unreleased, or fill the heap,
 *       to prove that the tier sees a {@code LEAK:} line and an {@code OutOfMemoryError}.</li>
 * </ul>
 * When stdin closes (the test JVM died or closed it), the child halts at once: it can never
 * outlive the test.
 */
public final class HostileProxyMain {
    /** Every control answer starts with this. */
    static final String PREFIX = "HOSTILE";

    /** Route ports as the routes name them; each is bound to an ephemeral port on 127.0.0.1. */
    static final int HTTP_PORT = 80;
    static final int TLS_PORT = 443;
    static final int TCP_PORT = 7000;
    static final int HEALTHY_PORT = 8080;

    /** The name of the healthy route: connections on it are not counted as attack connections. */
    static final String HEALTHY_ROUTE = "healthy";

    /**
     * The request-body timeout the tier expects (issue 7, item 3), scaled down. The slow-body
     * attack (one byte every {@link #SLOW_BODY_GAP}) asserts that the proxy closes its connection
     * within this plus {@link HostileClientTest#SLACK} of the request head. A byte every 300 ms
     * defeats a timeout that only measures the gap between two reads, so this must bound the
     * whole body (a deadline from the head, or a minimum rate); for a gap-only timeout, raise
     * {@link #SLOW_BODY_GAP} above this. It stays above {@link HostileClientTest#FIN_CLOSE_BOUND},
     * so that abandoned uploads are proven closed by their FIN, not by this timeout. Not a
     * setting of today's proxy: {@link #proxyConfig} is where to set it once it exists.
     */
    static final Duration BODY_TIMEOUT = Duration.ofSeconds(2);

    /** The slow-body attacker sends one byte of its request body this often. */
    static final Duration SLOW_BODY_GAP = Duration.ofMillis(300);

    /**
     * The proxy-wide budget for what is held on behalf of clients (issue 7, "What to build"),
     * once it exists. The tier's direct-memory bound is derived from it.
     */
    static final long BUFFER_BUDGET = 16L << 20;

    private HostileProxyMain() {
    }

    /**
     * THE proxy configuration of the hostile tier, in one place: the routes the attacks aim at,
     * the healthy route, and every setting. Settings from the issue 7 fixes go here (see the
     * end of the method).
     */
    static SmartProxy.Builder proxyConfig(HostileBackends be) {
        InetSocketAddress loopback0 = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        SmartProxy.Builder b = SmartProxy.builder()
                .listen(HTTP_PORT, loopback0)
                .listen(TLS_PORT, loopback0)
                .listen(TCP_PORT, loopback0)
                .listen(HEALTHY_PORT, loopback0)
                .gracefulShutdownTimeout(Duration.ofMillis(200))
                .certificate(certificate("app.test"))
                .certificate(certificate("ws.test"))
                // Plain HTTP: the most common configuration there is (a port-80 redirect), a
                // block route, and any other Host: no route, 404.
                .route(Route.named("to-https").match(m -> m.ports(HTTP_PORT).domains("redirect.test"))
                        .redirectToHttps(308))
                .route(Route.named("deny").match(m -> m.ports(HTTP_PORT).domains("block.test")).block())
                // TLS terminated, HTTP/1.1 to the app backend (/continue, /upload).
                .route(Route.named("app").match(m -> m.ports(TLS_PORT).domains("app.test"))
                        .forward(f -> f.target("127.0.0.1", be.app.port()).tls(TlsMode.TERMINATE)))
                // WebSocket through TERMINATE, to a backend that discards what it reads.
                .route(Route.named("ws").match(m -> m.ports(TLS_PORT).domains("ws.test"))
                        .forward(f -> f.target("127.0.0.1", be.webSocket.port()).tls(TlsMode.TERMINATE)))
                // SNI passthrough: every connection on this port is peeked for its ClientHello.
                .route(Route.named("pass").match(m -> m.ports(TLS_PORT).domains("pass.test"))
                        .forward(f -> f.target("127.0.0.1", be.passthrough.port()).tls(TlsMode.PASSTHROUGH)))
                // Plain TCP to a backend whose connect never completes.
                .route(Route.named("stuck").match(m -> m.ports(TCP_PORT))
                        .forward(f -> f.target("127.0.0.1", be.stuckPort())))
                // The healthy route the healthy client uses during every attack.
                .route(Route.named(HEALTHY_ROUTE).match(m -> m.ports(HEALTHY_PORT))
                        .forward(f -> f.target("127.0.0.1", be.healthy.port()).http()));
        // Issue 7's settings, scaled down where an attack must end within the tier's time: a
        // body that stops, or trickles, ends within BODY_TIMEOUT; the budget bounds what the
        // proxy holds for clients. Every other setting stays at its default on purpose: the
        // defaults are what most users run.
        b.http(HttpSettings.builder().requestBodyTimeout(BODY_TIMEOUT).minRequestBodyRate(240, BODY_TIMEOUT).build())
                .bufferBudget(BUFFER_BUDGET);
        return b;
    }

    private static CertificateSource certificate(String name) {
        X509Bundle leaf = TestPki.shared().leaf(name);
        return CertificateSource.pem(leaf.getCertificatePathPEM(), leaf.getPrivateKeyPEM());
    }

    /** Starts the backends and the proxy, prints the ports, and serves the control channel. */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                StandardCharsets.US_ASCII);
        BlockingQueue<String> commands = new LinkedBlockingQueue<>();
        Thread watchdog = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII))) {
                String line;
                while ((line = in.readLine()) != null) {
                    commands.add(line.trim());
                }
            } catch (IOException ignored) {
                // as end of stream
            }
            Runtime.getRuntime().halt(0); // the test JVM is gone or done with us
        }, "hostile-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        HostileBackends backends = HostileBackends.start();
        SmartProxy proxy = proxyConfig(backends).build().start();
        Map<String, Object> ready = new LinkedHashMap<>();
        ready.put("http", proxy.boundAddress(HTTP_PORT).getPort());
        ready.put("tls", proxy.boundAddress(TLS_PORT).getPort());
        ready.put("tcp", proxy.boundAddress(TCP_PORT).getPort());
        ready.put("healthy", proxy.boundAddress(HEALTHY_PORT).getPort());
        ready.put("pid", ProcessHandle.current().pid());
        reply(out, "ready", ready);
        while (true) {
            String command = commands.take();
            switch (command) {
                case "stats" -> reply(out, "stats", stats(proxy, backends));
                case "conns" -> reply(out, "conns", connections(proxy, backends));
                case "quit" -> {
                    proxy.close();
                    backends.close();
                    reply(out, "bye", Map.of());
                    Runtime.getRuntime().halt(0);
                }
                case "selftest-leak" -> {
                    leakOneBuffer();
                    reply(out, "selftest-leak", Map.of());
                }
                case "selftest-oom" -> exhaustTheHeap();
                default -> reply(out, "error", Map.of("unknown", command.replace(' ', '_')));
            }
        }
    }

    private static void reply(PrintStream out, String verb, Map<String, ?> values) {
        String line = PREFIX + " " + verb + values.entrySet().stream().map(e -> " " + e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining());
        synchronized (out) {
            out.println(line);
        }
    }

    private static Map<String, Object> connections(SmartProxy proxy, HostileBackends be) {
        List<ConnectionInfo> open = proxy.connections();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("open", proxy.stats().open());
        m.put("openAttack", open.stream().filter(c -> !c.routeName().orElse("").equals(HEALTHY_ROUTE)).count());
        m.put("buffered", open.stream().mapToLong(ConnectionInfo::bufferedBytes).sum());
        m.put("appBackendOpen", be.appOpen.get());
        m.put("wsBackendOpen", be.webSocketOpen.get());
        Map<String, Long> byRoute = open.stream().collect(Collectors.groupingBy(c -> c.routeName().orElse("-"),
                TreeMap::new, Collectors.counting()));
        m.put("byRoute", byRoute.isEmpty() ? "-" : byRoute.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue())
                .collect(Collectors.joining(",")));
        return m;
    }

    private static Map<String, Object> stats(SmartProxy proxy, HostileBackends be) {
        fullGc();
        pollLeakDetector();
        fullGc();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("heapLive", ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        long nettyDirect = PlatformDependent.usedDirectMemory(); // -1 when Netty does not count it itself
        long poolDirect = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(p -> p.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
        m.put("direct", Math.max(nettyDirect, poolDirect));
        m.put("nettyDirect", nettyDirect);
        m.put("jdkDirect", poolDirect);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p) {
            m.put("allocDirect", p.metric().usedDirectMemory());
            m.put("allocHeap", p.metric().usedHeapMemory());
        }
        m.put("threads", Thread.activeCount());
        m.putAll(connections(proxy, be));
        Map<CloseReason, Long> closed = new TreeMap<>(proxy.stats().closedByReason());
        m.put("closed", closed.isEmpty() ? "-" : closed.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue())
                .collect(Collectors.joining(",")));
        return m;
    }

    /** Self-test of the tier's leak scan: a buffer dropped unreleased (reported by a later {@code stats}). */
    private static void leakOneBuffer() {
        ByteBufAllocator.DEFAULT.directBuffer(64).writeByte(1);
    }

    private static final List<long[]> HOG = new java.util.ArrayList<>();

    /** Self-test of the tier's out-of-memory handling: fills the heap until the JVM exits. */
    private static void exhaustTheHeap() {
        while (true) {
            HOG.add(new long[1 << 20]);
        }
    }

    /** A full collection, waited for until a fresh weak reference is cleared (bounded). */
    private static void fullGc() {
        WeakReference<Object> sentinel = new WeakReference<>(new Object());
        long deadline = System.nanoTime() + 2_000_000_000L;
        do {
            System.gc();
        } while (sentinel.get() != null && System.nanoTime() < deadline);
    }

    /**
     * Netty reports a leak when a tracked buffer was collected unreleased and a later allocation
     * polls the detector: allocate a few after the GC so that a leak shows up as a LEAK: line now.
     */
    private static void pollLeakDetector() {
        for (int i = 0; i < 64; i++) {
            ByteBuf a = ByteBufAllocator.DEFAULT.directBuffer(16);
            ByteBuf b = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
            ByteBuf c = UnpooledByteBufAllocator.DEFAULT.heapBuffer(16);
            a.release();
            b.release();
            c.release();
        }
    }
}
