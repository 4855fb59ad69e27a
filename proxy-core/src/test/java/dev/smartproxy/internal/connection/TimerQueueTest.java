package dev.smartproxy.internal.connection;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-loop heap of timer entries, on a moved clock: order, exact deadlines, disarm and re-arm. */
class TimerQueueTest {
    private final ManualClock clock = new ManualClock();
    private final TimerQueue queue = new TimerQueue(clock, clock);
    private final List<String> ran = new ArrayList<>();

    private class Entry extends TimerEntry {
        final String name;
        long ranAt = -1;

        Entry(String name) {
            this.name = name;
        }

        @Override
        public void run() {
            ranAt = clock.nanoTime();
            ran.add(name);
        }

        void armIn(long nanos) {
            queue.arm(this, clock.nanoTime() + nanos, nanos);
        }
    }

    @Test
    void manyEntriesRunEachAtItsOwnDeadlineInDeadlineOrder() {
        Random rnd = new Random(42);
        long start = clock.nanoTime();
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            Entry e = new Entry("e" + i);
            e.armIn(1 + rnd.nextInt(1_000_000));
            entries.add(e);
        }
        // Disarm a quarter, re-arm another quarter later or earlier.
        for (int i = 0; i < 500; i++) {
            queue.disarm(entries.get(i));
        }
        for (int i = 500; i < 1000; i++) {
            entries.get(i).armIn(1 + rnd.nextInt(2_000_000));
        }
        assertThat(queue.size()).isEqualTo(1500);
        List<Long> due = new ArrayList<>();
        for (int i = 500; i < 2000; i++) {
            due.add(entries.get(i).armedDeadline());
        }
        clock.advance(Duration.ofMillis(3));
        assertThat(ran).hasSize(1500);
        for (int i = 0; i < 500; i++) {
            assertThat(entries.get(i).ranAt).isEqualTo(-1);
        }
        long last = start;
        for (String name : ran) {
            Entry e = entries.get(Integer.parseInt(name.substring(1)));
            assertThat(e.ranAt).isEqualTo(due.get(Integer.parseInt(name.substring(1)) - 500)); // exactly at its deadline
            assertThat(e.ranAt).isGreaterThanOrEqualTo(last);
            last = e.ranAt;
            assertThat(e.armed()).isFalse();
        }
        assertThat(queue.size()).isZero();
        assertThat(clock.pending()).isZero();
    }

    @Test
    void oneWakeUpAtATimeAndNoneWhenEmpty() {
        Entry a = new Entry("a");
        Entry b = new Entry("b");
        a.armIn(1000);
        b.armIn(2000);
        assertThat(clock.pending()).isEqualTo(1);
        b.armIn(500); // earlier than the wake-up: it moves
        assertThat(clock.pending()).isEqualTo(1);
        clock.advance(Duration.ofNanos(500));
        assertThat(ran).containsExactly("b");
        queue.disarm(a);
        assertThat(clock.pending()).isZero();
        clock.advance(Duration.ofSeconds(1));
        assertThat(ran).containsExactly("b");
    }

    @Test
    void anEntryDisarmedByAnotherDueAtTheSameTimeDoesNotRun() {
        Entry victim = new Entry("victim");
        Entry killer = new Entry("killer") {
            @Override
            public void run() {
                super.run();
                queue.disarm(victim);
            }
        };
        killer.armIn(100);
        victim.armIn(100);
        clock.advance(Duration.ofNanos(100));
        assertThat(ran).containsExactly("killer");
    }

    @Test
    void anEntryThatReArmsForNowRunsAgainOnTheNextWakeUpNotInALoop() {
        int[] runs = new int[1];
        Entry again = new Entry("again") {
            @Override
            public void run() {
                if (++runs[0] < 3) {
                    armIn(0);
                }
            }
        };
        again.armIn(10);
        clock.advance(Duration.ofNanos(10));
        assertThat(runs[0]).isEqualTo(3);
        assertThat(clock.scheduledCount()).isEqualTo(3);
    }
}
