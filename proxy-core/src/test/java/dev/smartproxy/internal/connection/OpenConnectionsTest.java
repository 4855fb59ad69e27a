package dev.smartproxy.internal.connection;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/** The registry's open set, linked through the records: adds, removes, counts and walks, from several threads. */
class OpenConnectionsTest {
    private final ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);

    private ManagedConnection record() {
        return registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
    }

    private static Set<ManagedConnection> walk(OpenConnections open) {
        Set<ManagedConnection> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        open.forEach(c -> assertThat(seen.add(c)).as("each connection once").isTrue());
        return seen;
    }

    @Test
    void removesFromTheHeadTheMiddleAndTheTailOfAList() {
        OpenConnections open = new OpenConnections();
        List<ManagedConnection> all = new ArrayList<>();
        for (int i = 0; i < 64; i++) { // four per list
            ManagedConnection c = record();
            all.add(c);
            open.add(c);
        }
        assertThat(open.size()).isEqualTo(64);
        assertThat(walk(open)).containsExactlyInAnyOrderElementsOf(all);
        List<ManagedConnection> kept = new ArrayList<>(all);
        for (int i = 0; i < all.size(); i += 3) {
            assertThat(open.remove(all.get(i))).isTrue();
            kept.remove(all.get(i));
        }
        assertThat(open.remove(all.get(0))).as("not in the set any more").isFalse();
        assertThat(open.size()).isEqualTo(kept.size());
        assertThat(walk(open)).containsExactlyInAnyOrderElementsOf(kept);
        kept.forEach(open::remove);
        assertThat(open.isEmpty()).isTrue();
        assertThat(walk(open)).isEmpty();
    }

    @Test
    void aWalkMayCloseTheConnectionsItVisits() {
        for (int i = 0; i < 40; i++) {
            record();
        }
        registry.forEachOpen(registry::closed);
        assertThat(registry.openCount()).isZero();
        assertThat(registry.snapshot()).isEmpty();
        assertThat(registry.stats().accepted()).isEqualTo(40);
    }

    @Test
    void threadsAddAndRemoveAtOnce() throws Exception {
        OpenConnections open = new OpenConnections();
        int threads = 4;
        int each = 5000;
        List<List<ManagedConnection>> made = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            List<ManagedConnection> mine = new ArrayList<>();
            for (int i = 0; i < each; i++) {
                mine.add(record());
            }
            made.add(mine);
        }
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> running = new ArrayList<>();
        for (List<ManagedConnection> mine : made) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (ManagedConnection c : mine) {
                    open.add(c);
                }
                for (int i = 0; i < mine.size(); i += 2) {
                    open.remove(mine.get(i));
                }
            });
            th.start();
            running.add(th);
        }
        start.countDown();
        while (running.stream().anyMatch(Thread::isAlive)) {
            walk(open); // walks while the lists change: each connection at most once, no failure
        }
        for (Thread th : running) {
            th.join();
        }
        assertThat(open.size()).isEqualTo(threads * each / 2);
        assertThat(walk(open)).hasSize(threads * each / 2);
    }
}
