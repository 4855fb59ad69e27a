package dev.smartproxy.micrometer;

import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The HTTP exchange timer on the I/O thread's path: the binder's listener overrides only
 * {@code onHttpExchange} (the proxy builds no other events for it), and timing an exchange
 * allocates nothing once the route's timer for its status class exists.
 */
class HttpTimerTest {
    private final ScriptedSource source = new ScriptedSource();
    private final List<ProxyEventListener> listeners = source.listeners;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @Test
    void theListenerOverridesOnlyOnHttpExchange() throws Exception {
        try (SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).clock(new MockClock()).build()) {
            Class<?> type = metrics.listener().getClass();
            List<String> overridden = new ArrayList<>();
            for (Method m : ProxyEventListener.class.getMethods()) {
                if (!Modifier.isStatic(m.getModifiers())
                        && type.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass() != ProxyEventListener.class) {
                    overridden.add(m.getName());
                }
            }
            assertThat(overridden).containsExactly("onHttpExchange");
        }
    }

    @Test
    void timingAnExchangeAllocatesNothingOnceItsTimerExists() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean,
                "per-thread allocation counts need HotSpot's ThreadMXBean");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(),
                "per-thread allocation counts are off");
        try (SmartProxyMetrics metrics = SmartProxyMetrics.builder(source).clock(new MockClock())
                .refreshEvery(Duration.ofDays(1)).build()) {
            metrics.bindTo(registry);
            ProxyEventListener listener = listeners.get(0);
            HttpExchange[] exchanges = new HttpExchange[8];
            int[] statuses = {200, 204, 301, 404, 503, 0, 101, 200};
            for (int i = 0; i < exchanges.length; i++) {
                exchanges[i] = new HttpExchange(i, null, i % 3 == 0 ? null : "route-" + (i % 3), null, "GET", "", "/",
                        "HTTP/1.1", statuses[i], 0, 0, Instant.EPOCH, Duration.ZERO, Duration.ofMillis(i + 1), false);
            }
            int rounds = 200_000;
            for (int i = 0; i < rounds; i++) {   // registers the timers, and lets the JIT compile the path
                listener.onHttpExchange(exchanges[i % exchanges.length]);
            }
            long thread = Thread.currentThread().getId();
            long before = threads.getThreadAllocatedBytes(thread);
            for (int i = 0; i < rounds; i++) {
                listener.onHttpExchange(exchanges[i % exchanges.length]);
            }
            long allocated = threads.getThreadAllocatedBytes(thread) - before;

            assertThat(allocated).as("bytes allocated timing %d exchanges", rounds).isLessThan(rounds / 4);
            long each = 2L * rounds / exchanges.length;   // per exchange of the eight, over both loops
            assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", "route-1", "status", "2xx").timer()
                    .count()).isEqualTo(2 * each);
            assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", "route-1", "status", "5xx").timer()
                    .totalTime(TimeUnit.MILLISECONDS)).isEqualTo(5.0 * each);
            assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", SmartProxyMetrics.NO_ROUTE,
                    "status", "1xx").timer().count()).isEqualTo(each);
            assertThat(registry.get(SmartProxyMetrics.HTTP_REQUESTS).tags("route", "route-2", "status",
                    SmartProxyMetrics.ABORTED).timer().count()).isEqualTo(each);
        }
    }
}
