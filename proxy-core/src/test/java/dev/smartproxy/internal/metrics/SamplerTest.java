package dev.smartproxy.internal.metrics;

import dev.smartproxy.testing.Await;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The sampler runs on a daemon thread of its own, survives a failing run and stops on close. */
class SamplerTest {
    @Test
    void runsOnItsOwnDaemonThreadSurvivesFailuresAndStops() {
        AtomicInteger runs = new AtomicInteger();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        Set<Boolean> daemon = ConcurrentHashMap.newKeySet();
        Sampler s = new Sampler(Duration.ofMillis(5), () -> {
            threads.add(Thread.currentThread().getName());
            daemon.add(Thread.currentThread().isDaemon());
            if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("first run fails");
            }
        });
        try {
            Await.until("three runs, the first failing", () -> runs.get() >= 3);
        } finally {
            s.close();
        }
        assertThat(s.isStopped()).isTrue();
        assertThat(threads).containsExactly(Sampler.THREAD_NAME);
        assertThat(daemon).containsExactly(true);
        int after = runs.get();
        s.close(); // idempotent
        assertThat(runs.get()).isEqualTo(after);
    }
}
