package dev.smartproxy.micrometer;

import com.sun.net.httpserver.HttpServer;
import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The binder over a real proxy on loopback: a raw TCP route and a plain HTTP route carry traffic,
 * and the meters in a {@link SimpleMeterRegistry} read what was sent (under the paranoid leak
 * detector of proxy-core's test jar).
 */
class SmartProxyMetricsTest {
    private static final int TCP = 1000;
    private static final int WEB = 2000;

    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final MockClock clock = new MockClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    /** Whether each HTTP timer (by status tag) was built with a percentile histogram, as the registry sees it. */
    private final Map<String, Boolean> percentileHistogram = new ConcurrentHashMap<>();

    SmartProxyMetricsTest() {
        registry.config().meterFilter(new MeterFilter() {
            @Override
            public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
                if (id.getName().equals(SmartProxyMetrics.HTTP_REQUESTS)) {
                    percentileHistogram.put(id.getTag("status"), Boolean.TRUE.equals(config.isPercentileHistogram()));
                }
                return config;
            }
        });
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A TCP echo backend and an HTTP backend answering {@code /status/NNN} with NNN. */
    private SmartProxy startProxy() throws Exception {
        TestServer echo = closer.keep(TestServer.plain("echo", s -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[4096];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                out.flush();
            }
        }));
        HttpServer web = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        web.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            int status = path.startsWith("/status/") ? Integer.parseInt(path.substring(8)) : 200;
            byte[] body = ("status " + status + "\n").getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        web.start();
        closer.keep(() -> web.stop(0));
        int webPort = web.getAddress().getPort();
        return closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("tcp").match(m -> m.ports(TCP)).forward(f -> f.target("127.0.0.1", echo.port())))
                .route(Route.named("web").match(m -> m.ports(WEB))
                        .forward(f -> f.target("127.0.0.1", webPort).http())), TCP, WEB));
    }

    /** Sends {@code payload} through the TCP route, reads the echo back and closes. */
    private static void echo(SmartProxy proxy, byte[] payload) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Proxies.port(proxy, TCP))) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(payload);
            byte[] back = s.getInputStream().readNBytes(payload.length);
            assertThat(back).isEqualTo(payload);
        }
    }

    /** One request on its own connection ({@code Connection: close}); returns the status code. */
    static int get(SmartProxy proxy, String path) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Proxies.port(proxy, WEB))) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return Integer.parseInt(response.substring(9, 12));
        }
    }

    private double counter(String name, String... tags) {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    private Timer httpTimer(String route, String status) {
        return registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", route, "status", status).timer();
    }

    @Test
    void theDocumentedMetersReadTheTrafficATestDrives() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = new SmartProxyMetrics(proxy, Tags.empty(), clock);
        closer.keep(metrics);
        metrics.bindTo(registry);

        byte[] payload = new byte[10_000];
        Arrays.fill(payload, (byte) 'x');
        echo(proxy, payload);
        echo(proxy, Arrays.copyOf(payload, 500));
        assertThat(get(proxy, "/status/200")).isEqualTo(200);
        assertThat(get(proxy, "/ok")).isEqualTo(200);
        assertThat(get(proxy, "/status/404")).isEqualTo(404);
        assertThat(get(proxy, "/status/503")).isEqualTo(503);
        events.awaitClosed(6);
        Proxies.awaitIdle(proxy);
        Await.until("four HTTP exchanges timed", () -> registry.find(SmartProxyMetrics.HTTP_REQUESTS).timers().stream()
                .mapToLong(Timer::count).sum() == 4);

        clock.add(SmartProxyMetrics.REFRESH);   // the cached snapshot is a second old: the next read takes a new one
        ProxyMetrics snapshot = metrics.refresh();

        // bytes: the TCP route's exactly, the whole proxy's as the snapshot says
        assertThat(counter("smartproxy.route.bytes", "route", "tcp", "direction", "in")).isEqualTo(10_500);
        assertThat(counter("smartproxy.route.bytes", "route", "tcp", "direction", "out")).isEqualTo(10_500);
        assertThat(counter("smartproxy.bytes", "direction", "in")).isEqualTo(snapshot.bytesIn().total())
                .isGreaterThan(10_500);
        assertThat(counter("smartproxy.bytes", "direction", "out")).isEqualTo(snapshot.bytesOut().total())
                .isGreaterThan(10_500);
        assertThat(counter("smartproxy.route.bytes", "route", "web", "direction", "in"))
                .isEqualTo(snapshot.bytesIn().total() - 10_500);

        // connections: accepted, routed by kind and route, open now, closed by reason
        assertThat(counter("smartproxy.connections.accepted")).isEqualTo(6);
        assertThat(counter("smartproxy.kind.connections.routed", "kind", "PLAIN")).isEqualTo(6);
        assertThat(counter("smartproxy.kind.connections.closed", "kind", "PLAIN")).isEqualTo(6);
        assertThat(counter("smartproxy.kind.connections.routed", "kind", "TERMINATED")).isZero();
        assertThat(counter("smartproxy.route.connections.routed", "route", "tcp")).isEqualTo(2);
        assertThat(counter("smartproxy.route.connections.routed", "route", "web")).isEqualTo(4);
        assertThat(counter("smartproxy.route.connections.closed", "route", "web")).isEqualTo(4);
        assertThat(gauge("smartproxy.connections.open")).isZero();
        assertThat(gauge("smartproxy.route.connections.open", "route", "tcp")).isZero();
        assertThat(gauge("smartproxy.kind.connections.open", "kind", "PLAIN")).isZero();
        Map<CloseReason, Long> reasons = events.closed().stream().collect(Collectors.groupingBy(
                c -> c.closeReason().orElseThrow(), Collectors.counting()));
        reasons.forEach((reason, n) -> assertThat(counter("smartproxy.connections.closed", "reason", reason.name()))
                .as("closed with %s", reason).isEqualTo(n.doubleValue()));
        assertThat(registry.find("smartproxy.connections.closed").functionCounters()).hasSize(reasons.size());

        // HTTP exchanges by route and status class, with their time
        assertThat(httpTimer("web", "2xx").count()).isEqualTo(2);
        assertThat(httpTimer("web", "4xx").count()).isEqualTo(1);
        assertThat(httpTimer("web", "5xx").count()).isEqualTo(1);
        assertThat(httpTimer("web", "2xx").totalTime(TimeUnit.NANOSECONDS)).isPositive();
        assertThat(percentileHistogram).as("no percentile histogram by default").containsEntry("2xx", false);
        assertThat(snapshot.httpByRoute().get("web").total()).isEqualTo(4);

        // backends: keyed by the configured host:port, connect time as a function timer
        assertThat(registry.find("smartproxy.backend.connects").functionCounters()).hasSize(2);
        for (FunctionCounter c : registry.find("smartproxy.backend.connects").functionCounters()) {
            String backend = c.getId().getTag("backend");
            assertThat(backend).startsWith("127.0.0.1:");
            FunctionTimer connect = registry.get("smartproxy.backend.connect").tag("backend", backend).functionTimer();
            assertThat(connect.count()).isEqualTo(c.count()).isPositive();
            assertThat(connect.totalTime(TimeUnit.NANOSECONDS)).isPositive();
            // The TCP route's backend connections closed with their clients; the HTTP route's may
            // wait in the backend pool for the next client, still open: the gauge reads the core's count.
            assertThat(gauge("smartproxy.backend.connections.open", "backend", backend))
                    .isEqualTo((double) snapshot.byBackend().get(backend).open())
                    .isLessThanOrEqualTo(c.count());
            assertThat(counter("smartproxy.backend.connect.failures", "backend", backend)).isZero();
        }
        // One backend connection per TCP client; the HTTP clients' exchanges may share pooled ones.
        int echoPort = ((dev.smartproxy.route.ForwardAction) proxy.routes().routes().stream()
                .filter(r -> r.name().equals("tcp")).findFirst().orElseThrow().action()).targets().get(0).portFor(0);
        assertThat(counter("smartproxy.backend.connects", "backend", "127.0.0.1:" + echoPort)).isEqualTo(2);
        assertThat(registry.find("smartproxy.backend.connects").functionCounters().stream().mapToDouble(
                FunctionCounter::count).sum()).isBetween(3.0, 6.0);

        // nothing unbounded: no tag carries a client address or a path
        for (Meter m : registry.getMeters()) {
            assertThat(m.getId().getTags()).allSatisfy(t -> assertThat(t.getKey())
                    .isIn("route", "kind", "reason", "status", "backend", "cause", "leg", "direction", "window"));
            assertThat(m.getId().getTags()).allSatisfy(t -> assertThat(t.getValue()).doesNotStartWith("/"));
        }
    }

    @Test
    void aSnapshotIsTakenAtMostOncePerSecondOfTheClock() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = closer.keep(new SmartProxyMetrics(proxy, Tags.empty(), clock));
        metrics.bindTo(registry);
        echo(proxy, new byte[100]);
        Proxies.awaitIdle(proxy);
        assertThat(counter("smartproxy.connections.accepted")).as("the snapshot of bindTo, not a second old").isZero();
        clock.add(Duration.ofMillis(999));
        assertThat(counter("smartproxy.connections.accepted")).isZero();
        clock.add(Duration.ofMillis(1));
        assertThat(counter("smartproxy.connections.accepted")).isEqualTo(1);
    }

    @Test
    void aRouteSeenAfterBindingGetsItsMetersFromTheRefreshThread() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = closer.keep(new SmartProxyMetrics(proxy));   // system clock
        metrics.bindTo(registry);
        assertThat(registry.find("smartproxy.route.connections.routed").tag("route", "tcp").functionCounter()).isNull();
        echo(proxy, new byte[100]);
        Await.until("the tcp route's meters", () ->
                registry.find("smartproxy.route.connections.routed").tag("route", "tcp").functionCounter() != null);
        Await.until("the tcp route counted", () -> counter("smartproxy.route.connections.routed", "route", "tcp") == 1);
    }

    @Test
    void commonTagsAndPercentileHistogramsOnRequest() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = closer.keep(SmartProxyMetrics.builder(proxy).tags(Tags.of("instance", "edge-1"))
                .clock(clock).publishPercentileHistogram(true).build());
        metrics.bindTo(registry);
        assertThat(get(proxy, "/status/201")).isEqualTo(201);
        Await.until("the exchange timed", () -> registry.find(SmartProxyMetrics.HTTP_REQUESTS).timer() != null);
        Timer timer = registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("instance", "edge-1", "route", "web",
                "status", "2xx").timer();
        assertThat(timer.count()).isEqualTo(1);
        assertThat(percentileHistogram).containsEntry("2xx", true);
        assertThat(registry.getMeters()).isNotEmpty()
                .allSatisfy(m -> assertThat(m.getId().getTag("instance")).isEqualTo("edge-1"));
    }

    @Test
    void closeRemovesTheListenerTheThreadAndTheMeters() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = new SmartProxyMetrics(proxy, Tags.empty(), clock);
        metrics.bindTo(registry);
        assertThat(get(proxy, "/ok")).isEqualTo(200);
        Await.until("the exchange timed", () -> registry.find(SmartProxyMetrics.HTTP_REQUESTS).timer() != null);
        assertThat(metrics.listening()).isTrue();

        metrics.close();
        metrics.close();   // idempotent
        assertThat(metrics.listening()).isFalse();
        assertThat(proxy.removeListener(metrics.listener())).as("the binder's listener is gone").isFalse();
        assertThat(registry.getMeters()).isEmpty();
        assertThat(get(proxy, "/ok")).isEqualTo(200);
        Proxies.awaitIdle(proxy);
        assertThat(registry.getMeters()).as("an exchange after close records nothing").isEmpty();
        assertThat(metrics.awaitStopped(Duration.ofSeconds(5))).as("the refresh thread ended").isTrue();
        try {
            metrics.bindTo(registry);
            throw new AssertionError("bindTo after close");
        } catch (IllegalStateException expected) {
            assertThat(expected).hasMessageContaining("closed");
        }
    }

    @Test
    void kindsAreAllPresentFromTheStart() throws Exception {
        SmartProxy proxy = startProxy();
        SmartProxyMetrics metrics = closer.keep(new SmartProxyMetrics(proxy, Tags.empty(), clock));
        metrics.bindTo(registry);
        Function<ConnectionKind, Gauge> open = k -> registry.find("smartproxy.kind.connections.open")
                .tag("kind", k.name()).gauge();
        for (ConnectionKind k : ConnectionKind.values()) {
            assertThat(open.apply(k)).as(k.name()).isNotNull();
        }
        assertThat(registry.find("smartproxy.connections.open").gauge()).isNotNull();
        assertThat(registry.find("smartproxy.throughput").gauges()).hasSize(6);
        assertThat(registry.find("smartproxy.websocket.messages").functionCounters()).hasSize(2);
    }
}
