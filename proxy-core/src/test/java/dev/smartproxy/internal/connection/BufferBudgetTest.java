package dev.smartproxy.internal.connection;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.smartproxy.internal.connection.BufferBudget.FLOOR;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The budget alone: floor, pool, wake-ups, release on close, and many threads at once. */
class BufferBudgetTest {
    private static final int KIB = 1024;

    /** An event loop whose tasks run only when the test says so. */
    private final EmbeddedChannel loop = new EmbeddedChannel();
    private final List<String> woken = new ArrayList<>();

    @AfterEach
    void tearDown() {
        loop.finishAndReleaseAll();
    }

    private BufferBudget.Holder holder(BufferBudget budget, String name) {
        return budget.holder(loop.eventLoop(), null, () -> woken.add(name));
    }

    @Test
    void aHolderWithinItsFloorAlwaysReadsEvenWhenTheBudgetIsFull() {
        BufferBudget budget = new BufferBudget(64 * KIB);
        BufferBudget.Holder big = holder(budget, "big");
        BufferBudget.Holder small = holder(budget, "small");
        assertThat(big.hold(100 * KIB)).as("over the limit and above its floor").isFalse();
        assertThat(small.hold(FLOOR)).as("at its floor").isTrue();
        assertThat(budget.used()).isEqualTo(100 * KIB + FLOOR);
        assertThat(small.hold(FLOOR + 1)).as("one byte above its floor, budget full").isFalse();
        assertThat(budget.waiting()).isEqualTo(2);
    }

    @Test
    void aboveTheFloorReadingGoesOnWhileTheBudgetHasRoom() {
        BufferBudget budget = new BufferBudget(100 * KIB);
        BufferBudget.Holder a = holder(budget, "a");
        BufferBudget.Holder b = holder(budget, "b");
        assertThat(a.hold(60 * KIB)).isTrue();
        assertThat(b.hold(40 * KIB)).as("exactly at the limit").isTrue();
        assertThat(b.hold(40 * KIB + 1)).as("one byte over").isFalse();
        assertThat(budget.used()).isEqualTo(100 * KIB + 1);
        assertThat(a.held()).isEqualTo(60 * KIB);
        assertThat(budget.waiting()).isEqualTo(1);
        assertThat(b.hold(40 * KIB + 1)).as("no change, still over").isFalse();
        assertThat(budget.waiting()).as("listed once").isEqualTo(1);
    }

    @Test
    void aReleaseWakesTheOldestWaiterOnItsOwnLoopNeverInline() {
        BufferBudget budget = new BufferBudget(100 * KIB);
        BufferBudget.Holder filler = holder(budget, "filler");
        BufferBudget.Holder a = holder(budget, "a");
        BufferBudget.Holder b = holder(budget, "b");
        filler.hold(100 * KIB);
        assertThat(a.hold(20 * KIB)).isFalse();
        assertThat(b.hold(20 * KIB)).isFalse();
        filler.hold(100 * KIB - 40 * KIB - KIB); // room: 1 KiB
        assertThat(woken).as("not inline").isEmpty();
        loop.runPendingTasks();
        assertThat(woken).as("one wake-up for a little room, oldest first").containsExactly("a");
        assertThat(budget.waiting()).isEqualTo(1);
        // a reads again and still fits: it passes one wake-up on
        assertThat(a.hold(20 * KIB + 512)).isTrue();
        loop.runPendingTasks();
        assertThat(woken).containsExactly("a", "b");
        assertThat(budget.waiting()).isZero();
    }

    @Test
    void wakeUpsAreBoundedByTheRoomReleased() {
        BufferBudget budget = new BufferBudget(4096 * KIB);
        BufferBudget.Holder filler = holder(budget, "filler");
        filler.hold(4096 * KIB);
        for (int i = 0; i < 100; i++) {
            assertThat(holder(budget, "w" + i).hold(FLOOR + 1)).isFalse();
        }
        long over = budget.used() - budget.limit();
        filler.hold(filler.held() - over - 1); // one byte of room
        loop.runPendingTasks();
        assertThat(woken).as("no herd for a few bytes").containsExactly("w0");
        filler.hold(filler.held() - 3 * BufferBudget.WAKE_QUANTUM); // room for three reads and a byte
        loop.runPendingTasks();
        assertThat(woken).containsExactly("w0", "w1", "w2", "w3", "w4");
        assertThat(budget.waiting()).isEqualTo(95);
        filler.close();
        long room = budget.limit() - budget.used();
        loop.runPendingTasks();
        assertThat(woken).hasSize(5 + (int) ((room + BufferBudget.WAKE_QUANTUM - 1) / BufferBudget.WAKE_QUANTUM));
        assertThat(woken).hasSizeLessThan(100);
    }

    @Test
    void aWaiterThatFellBackToItsFloorPassesItsWakeUpOn() {
        BufferBudget budget = new BufferBudget(64 * KIB);
        BufferBudget.Holder filler = holder(budget, "filler");
        BufferBudget.Holder drained = holder(budget, "drained");
        BufferBudget.Holder next = holder(budget, "next");
        filler.hold(64 * KIB);
        assertThat(drained.hold(32 * KIB)).isFalse();
        assertThat(next.hold(32 * KIB)).isFalse();
        assertThat(drained.hold(0)).as("its bytes moved on (a connect completed)").isTrue();
        filler.hold(0); // room for one wake-up: drained's, the oldest, which needs none any more
        loop.runPendingTasks();
        assertThat(woken).containsExactly("next");
    }

    @Test
    void closeReleasesOnceAndLeavesTheWakeUpList() {
        BufferBudget budget = new BufferBudget(64 * KIB);
        BufferBudget.Holder filler = holder(budget, "filler");
        BufferBudget.Holder gone = holder(budget, "gone");
        BufferBudget.Holder next = holder(budget, "next");
        filler.hold(64 * KIB);
        assertThat(gone.hold(32 * KIB)).isFalse();
        assertThat(next.hold(32 * KIB)).isFalse();
        gone.close();
        assertThat(budget.used()).isEqualTo(96 * KIB);
        assertThat(budget.waiting()).isEqualTo(1);
        gone.close();
        assertThat(gone.hold(10 * KIB)).as("a closed holder counts nothing").isTrue();
        assertThat(budget.used()).isEqualTo(96 * KIB);
        filler.close();
        loop.runPendingTasks();
        assertThat(woken).containsExactly("next");
        next.close();
        assertThat(budget.used()).isZero();
        assertThat(budget.waiting()).isZero();
    }

    @Test
    void aWakeUpThatFindsItsHolderClosedIsPassedOn() {
        BufferBudget budget = new BufferBudget(64 * KIB);
        BufferBudget.Holder filler = holder(budget, "filler");
        BufferBudget.Holder first = holder(budget, "first");
        BufferBudget.Holder second = holder(budget, "second");
        filler.hold(64 * KIB);
        first.hold(FLOOR + 1);
        second.hold(FLOOR + 1);
        filler.hold(64 * KIB - 2 * (FLOOR + 1) - 1); // room for one wake-up: first's
        first.close(); // closed before its wake-up ran
        loop.runPendingTasks();
        assertThat(woken).containsExactly("second");
    }

    @Test
    void theConnectionReportsWhatItsHoldersHold() {
        ManagedConnection conn = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM)
                .register(25, new InetSocketAddress("127.0.0.1", 4000));
        BufferBudget budget = new BufferBudget(1024 * KIB);
        BufferBudget.Holder a = budget.holder(loop.eventLoop(), conn, () -> { });
        BufferBudget.Holder b = budget.holder(loop.eventLoop(), conn, () -> { });
        a.hold(1000);
        b.hold(234);
        assertThat(conn.info().bufferedBytes()).isEqualTo(1234);
        a.close();
        b.hold(0);
        assertThat(conn.info().bufferedBytes()).isZero();
    }

    @Test
    void negativeLevelsAndLimitsAreRejected() {
        assertThatThrownBy(() -> new BufferBudget(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bufferBudget: 0 (expected: > 0)");
        BufferBudget.Holder h = holder(new BufferBudget(KIB), "h");
        assertThatThrownBy(() -> h.hold(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bytes: -1");
    }

    /**
     * Holders on several event loops grow and shrink at random and stop when told; stopped
     * holders must all be woken once the others release, and everything returns to zero.
     */
    @Test
    void manyHoldersOnSeveralLoopsEndAtZeroWithNobodyLeftWaiting() throws Exception {
        DefaultEventLoopGroup group = new DefaultEventLoopGroup(4);
        try {
            BufferBudget budget = new BufferBudget(512 * KIB);
            int holders = 64;
            int rounds = 400;
            List<BufferBudget.Holder> all = new ArrayList<>();
            List<AtomicBoolean> stopped = new ArrayList<>();
            List<EventLoop> loops = new ArrayList<>();
            AtomicInteger wakeUps = new AtomicInteger();
            for (int i = 0; i < holders; i++) {
                EventLoop l = group.next();
                AtomicBoolean s = new AtomicBoolean();
                loops.add(l);
                stopped.add(s);
                all.add(budget.holder(l, null, () -> {
                    wakeUps.incrementAndGet();
                    s.set(false);
                }));
            }
            CountDownLatch done = new CountDownLatch(holders);
            for (int i = 0; i < holders; i++) {
                int n = i;
                loops.get(n).execute(() -> step(all.get(n), stopped.get(n), rounds, done, loops.get(n)));
            }
            assertThat(done.await(30, TimeUnit.SECONDS)).as("every holder finished its rounds").isTrue();
            // Everyone has released everything: whoever was still stopped has been woken.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while ((budget.waiting() > 0 || stopped.stream().anyMatch(AtomicBoolean::get))
                    && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(budget.waiting()).isZero();
            assertThat(stopped).noneMatch(AtomicBoolean::get);
            assertThat(wakeUps.get()).isPositive();
            CountDownLatch closed = new CountDownLatch(holders);
            for (int i = 0; i < holders; i++) {
                int n = i;
                loops.get(n).execute(() -> {
                    all.get(n).close();
                    closed.countDown();
                });
            }
            assertThat(closed.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(budget.used()).isZero();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** One holder's random walk; a stopped holder does not grow until woken. Ends holding nothing. */
    private static void step(BufferBudget.Holder h, AtomicBoolean stopped, int left, CountDownLatch done,
                             EventLoop loop) {
        if (left == 0) {
            stopped.set(!h.hold(0));
            done.countDown();
            return;
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long next = stopped.get() ? Math.max(0, h.held() - r.nextInt(32 * KIB)) : r.nextLong(96 * KIB);
        stopped.set(!h.hold(next));
        loop.execute(() -> step(h, stopped, left - 1, done, loop));
    }
}
