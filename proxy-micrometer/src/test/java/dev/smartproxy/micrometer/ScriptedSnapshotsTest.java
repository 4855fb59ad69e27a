package dev.smartproxy.micrometer;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.LatencyHistogram;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.TlsFailureCause;
import dev.smartproxy.metrics.WebSocketMetrics;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The binder over scripted snapshots, no sockets: keys that leave the snapshot (a route removed by
 * a route update, a backend no route names any more) keep their counters' last totals and read 0
 * as gauges; keys that appear get meters; HTTP exchanges without a route or a response get the
 * documented tags; the listener is added once and removed on close.
 */
class ScriptedSnapshotsTest {
    private final ScriptedSource source = new ScriptedSource();
    private final List<ProxyEventListener> listeners = source.listeners;
    private final AtomicReference<ProxyMetrics> next = source.next;
    private final MockClock clock = new MockClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private static ProxyMetrics snapshot(Map<String, RouteMetrics> routes, Map<String, BackendMetrics> backends,
                                         Map<CloseReason, Long> closed, Map<TlsFailureCause, Long> tls) {
        ProxyMetrics e = ProxyMetrics.empty(Instant.EPOCH);
        return new ProxyMetrics(Instant.EPOCH, new Rate(1000, 10, 20, 30), new Rate(2000, 1, 2, 3), 7, 50, e.byKind(),
                closed, routes, backends, Map.of(), new WebSocketMetrics(1, 2, 3, 4, 5), tls, Map.of(), List.of(), 64);
    }

    private static LatencyHistogram connectTimes(int count, Duration total) {
        long[] counts = new long[LatencyHistogram.BOUNDS.size() + 1];
        counts[0] = count;
        return new LatencyHistogram(count, total, total, LatencyHistogram.BOUNDS, counts);
    }

    private double counter(String name, String... tags) {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void aRemovedRouteKeepsItsTotalsAndItsGaugesReadZero() {
        next.set(snapshot(
                Map.of("old", new RouteMetrics("old", 2, 5, 3, new Rate(100, 0, 0, 0), new Rate(300, 0, 0, 0))),
                Map.of("old-backend:80", new BackendMetrics("old-backend:80", 2, 4, 1,
                        connectTimes(4, Duration.ofMillis(40)))),
                Map.of(CloseReason.CLIENT_CLOSED, 3L), Map.of(TlsFailureCause.HANDSHAKE_TIMEOUT, 2L)));
        try (SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).clock(clock).build()) {
            metrics.bindTo(registry);
            assertRemovedRouteKeepsItsTotals(metrics);
        }
    }

    private void assertRemovedRouteKeepsItsTotals(SmartProxyMetrics metrics) {
        assertThat(counter("smartproxy.route.connections.routed", "route", "old")).isEqualTo(5);
        assertThat(counter("smartproxy.route.bytes", "route", "old", "direction", "out")).isEqualTo(300);
        assertThat(gauge("smartproxy.route.connections.open", "route", "old")).isEqualTo(2);
        assertThat(gauge("smartproxy.backend.connections.open", "backend", "old-backend:80")).isEqualTo(2);
        assertThat(registry.get("smartproxy.backend.connect").tag("backend", "old-backend:80").functionTimer()
                .totalTime(TimeUnit.MILLISECONDS)).isEqualTo(40);
        assertThat(counter("smartproxy.tls.handshake.failures", "leg", "client", "cause", "HANDSHAKE_TIMEOUT"))
                .isEqualTo(2);
        assertThat(gauge("smartproxy.connections.open")).isEqualTo(7);
        assertThat(gauge("smartproxy.buffered")).isEqualTo(64);
        assertThat(gauge("smartproxy.throughput", "direction", "in", "window", "10s")).isEqualTo(20);
        assertThat(counter("smartproxy.websocket.messages", "direction", "out")).isEqualTo(4);

        // a route update removes "old" and its backend, and adds "new"
        next.set(snapshot(
                Map.of("new", new RouteMetrics("new", 1, 1, 0, new Rate(10, 0, 0, 0), new Rate(20, 0, 0, 0))),
                Map.of(), Map.of(CloseReason.CLIENT_CLOSED, 3L, CloseReason.BLOCKED, 2L), Map.of()));
        clock.add(SmartProxyMetrics.REFRESH);
        metrics.refresh();

        assertThat(counter("smartproxy.route.connections.routed", "route", "new")).isEqualTo(1);
        assertThat(counter("smartproxy.connections.closed", "reason", "BLOCKED")).isEqualTo(2);
        assertThat(counter("smartproxy.route.connections.routed", "route", "old")).as("a total never goes down")
                .isEqualTo(5);
        assertThat(counter("smartproxy.route.bytes", "route", "old", "direction", "out")).isEqualTo(300);
        assertThat(gauge("smartproxy.route.connections.open", "route", "old")).isZero();
        assertThat(counter("smartproxy.backend.connects", "backend", "old-backend:80")).isEqualTo(4);
        assertThat(gauge("smartproxy.backend.connections.open", "backend", "old-backend:80")).isZero();
        assertThat(registry.get("smartproxy.backend.connect").tag("backend", "old-backend:80").functionTimer()
                .count()).isEqualTo(4);
        assertThat(counter("smartproxy.tls.handshake.failures", "leg", "client", "cause", "HANDSHAKE_TIMEOUT"))
                .isEqualTo(2);
    }

    @Test
    void exchangesWithoutARouteOrAResponseGetTheirOwnTags() {
        try (SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).tags(Tags.of("instance", "a")).clock(clock)
                .build()) {
            exchanges(metrics);
        }
    }

    private void exchanges(SmartProxyMetrics metrics) {
        metrics.bindTo(registry);
        assertThat(listeners).containsExactly(metrics.listener());
        InetSocketAddress client = new InetSocketAddress("127.0.0.1", 40000);
        listeners.get(0).onHttpExchange(new HttpExchange(1, client, null, null, "GET", "x.test", "/nowhere",
                "HTTP/1.1", 404, 0, 9, Instant.EPOCH, Duration.ofMillis(1), Duration.ofMillis(2), true));
        listeners.get(0).onHttpExchange(new HttpExchange(2, client, "api", null, "POST", "x.test", "/upload",
                "HTTP/1.1", 0, 10, 0, Instant.EPOCH, null, Duration.ofMillis(30), false));
        listeners.get(0).onHttpExchange(new HttpExchange(3, client, "api", null, "GET", "x.test", "/a?secret=1",
                "HTTP/1.1", 302, 0, 0, Instant.EPOCH, Duration.ofMillis(1), Duration.ofMillis(5), true));

        assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", SmartProxyMetrics.NO_ROUTE,
                "status", "4xx").timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2);
        assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", "api", "status",
                SmartProxyMetrics.ABORTED).timer().count()).isEqualTo(1);
        assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", "api", "status", "3xx").timer()
                .getId().getTags()).extracting(t -> t.getKey()).containsExactlyInAnyOrder("instance", "route", "status");

        metrics.close();
        assertThat(listeners).isEmpty();
        assertThat(registry.getMeters()).isEmpty();
    }

    @Test
    void bindingToTwoRegistriesAddsOneListenerAndCloseUnbindsBoth() {
        try (SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).clock(clock).build()) {
            twoRegistries(metrics);
        }
    }

    private void twoRegistries(SmartProxyMetrics metrics) {
        SimpleMeterRegistry second = new SimpleMeterRegistry();
        metrics.bindTo(registry);
        metrics.bindTo(second);
        assertThat(listeners).hasSize(1);
        listeners.get(0).onHttpExchange(new HttpExchange(1, null, "api", null, "GET", "", "/", "HTTP/1.1", 200, 0, 0,
                Instant.EPOCH, Duration.ZERO, Duration.ofMillis(3), false));
        assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).timer().count()).isEqualTo(1);
        assertThat(second.get(SmartProxyMetrics.HTTP_REQUESTS).timer().count()).isEqualTo(1);
        assertThat(second.get("smartproxy.connections.accepted").functionCounter().count()).isZero();
        metrics.close();
        assertThat(registry.getMeters()).isEmpty();
        assertThat(second.getMeters()).isEmpty();
        assertThat(listeners).isEmpty();
    }
}
