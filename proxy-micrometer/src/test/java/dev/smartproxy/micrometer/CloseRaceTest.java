package dev.smartproxy.micrometer;

import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.LatencyHistogram;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.WebSocketMetrics;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SmartProxyMetrics#close()} racing a registration: a refresh that has taken its snapshot and
 * is registering a new route's meters, and an exchange already in delivery registering its timer.
 * A meter filter holds the racing thread inside the registration while the test closes the binder;
 * once released, whatever it registers must go again: the registry ends with no smartproxy meter
 * (a leaked gauge would keep the binder and the proxy reachable from the registry).
 */
class CloseRaceTest {
    private final ScriptedSource source = new ScriptedSource();
    private final List<ProxyEventListener> listeners = source.listeners;
    private final AtomicReference<ProxyMetrics> next = source.next;
    private final MockClock clock = new MockClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Gate gate = new Gate();
    private Thread racer;

    /** Holds the first registration of a meter named {@code name} on the racing thread until released. */
    private static final class Gate implements MeterFilter {
        volatile Thread held;
        volatile String name;
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public Meter.Id map(Meter.Id id) {
            if (Thread.currentThread() == held && id.getName().equals(name) && reached.getCount() > 0) {
                reached.countDown();
                try {
                    if (!release.await(10, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("the test never released the gate");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return id;
        }
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        gate.release.countDown();
        if (racer != null) {
            racer.join(10_000);
        }
    }

    private SmartProxyMetrics bound() {
        registry.config().meterFilter(gate);
        // the refresh thread never runs here: the test runs the one tick that races close()
        SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).clock(clock).refreshEvery(Duration.ofDays(1))
                .build();
        metrics.bindTo(registry);
        assertThat(registry.getMeters()).isNotEmpty();
        return metrics;
    }

    /** Starts {@code race} on its own thread, held at the registration of {@code meter}; returns once held. */
    private void holdAt(String meter, Runnable race) throws InterruptedException {
        gate.name = meter;
        racer = new Thread(race, "racer");
        gate.held = racer;
        racer.start();
        assertThat(gate.reached.await(10, TimeUnit.SECONDS)).as("the racer reached " + meter).isTrue();
    }

    private void releaseAndJoin() throws InterruptedException {
        gate.release.countDown();
        racer.join(10_000);
        assertThat(racer.isAlive()).as("the racer ended").isFalse();
    }

    private List<Meter> smartProxyMeters() {
        return registry.getMeters().stream().filter(m -> m.getId().getName().startsWith("smartproxy.")).toList();
    }

    @Test
    void closeWhileATickRegistersANewRoute() throws Exception {
        SmartProxyMetrics metrics = bound();
        ProxyMetrics e = ProxyMetrics.empty(Instant.EPOCH);
        next.set(new ProxyMetrics(Instant.EPOCH, e.bytesIn(), e.bytesOut(), 1, 1, e.byKind(), Map.of(),
                Map.of("api", new RouteMetrics("api", 1, 1, 0, new Rate(10, 0, 0, 0), new Rate(20, 0, 0, 0))),
                Map.of("api-backend:80", new BackendMetrics("api-backend:80", 1, 1, 0, LatencyHistogram.EMPTY)),
                Map.of(), new WebSocketMetrics(0, 0, 0, 0, 0), Map.of(), Map.of(), List.of(), 0));
        clock.add(SmartProxyMetrics.REFRESH);

        holdAt("smartproxy.route.connections.open", metrics::tick);
        metrics.close();
        assertThat(smartProxyMeters()).as("close removed what was kept before it").isEmpty();

        releaseAndJoin();
        assertThat(smartProxyMeters()).as("what the tick registered after close is gone").isEmpty();
        assertThat(registry.find("smartproxy.backend.connects").meter()).isNull();
    }

    @Test
    void closeWhileAnExchangeRegistersItsTimer() throws Exception {
        SmartProxyMetrics metrics = bound();
        ProxyEventListener delivering = listeners.get(0);

        holdAt(SmartProxyMetrics.HTTP_REQUESTS, () -> delivering.onHttpExchange(new HttpExchange(1, null, "api", null,
                "GET", "", "/", "HTTP/1.1", 200, 0, 0, Instant.EPOCH, Duration.ZERO, Duration.ofMillis(3), false)));
        metrics.close();
        assertThat(listeners).isEmpty();
        assertThat(smartProxyMeters()).isEmpty();

        releaseAndJoin();
        assertThat(smartProxyMeters()).as("the timer the exchange registered after close is gone").isEmpty();

        delivering.onHttpExchange(new HttpExchange(2, null, "api", null, "GET", "", "/", "HTTP/1.1", 500, 0, 0,
                Instant.EPOCH, Duration.ZERO, Duration.ofMillis(3), false));
        assertThat(smartProxyMeters()).as("an exchange delivered after close registers nothing").isEmpty();
    }
}
