package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.connection.TimerEntry;
import dev.smartproxy.testing.Await;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Arming and disarming a connection's timer from a thread other than its loop is handed to the loop, in order. */
class EventLoopSchedulerTest {
    private final EventLoop loop = new DefaultEventLoop();

    @AfterEach
    void stop() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static final class Named extends TimerEntry {
        final String name;
        final List<String> ran;
        final List<Boolean> onLoop;
        final EventLoop loop;

        Named(String name, List<String> ran, List<Boolean> onLoop, EventLoop loop) {
            this.name = name;
            this.ran = ran;
            this.onLoop = onLoop;
            this.loop = loop;
        }

        @Override
        public void run() {
            onLoop.add(loop.inEventLoop());
            ran.add(name);
        }
    }

    @Test
    void offLoopArmingRunsOnTheLoopAndAnOffLoopDisarmWins() throws Exception {
        EventLoopScheduler scheduler = EventLoopScheduler.of(loop); // made off the loop: its own instance
        List<String> ran = new CopyOnWriteArrayList<>();
        List<Boolean> onLoop = new CopyOnWriteArrayList<>();
        Named disarmed = new Named("disarmed", ran, onLoop, loop);
        Named kept = new Named("kept", ran, onLoop, loop);
        // Deadlines are taken when each timer is armed: the loop's thread may start only now, and a
        // deadline taken before that could already be due when the arm runs. The disarm is handed
        // to the loop at once, far ahead of the early deadline.
        long early = TimeUnit.MILLISECONDS.toNanos(200);
        long later = TimeUnit.MILLISECONDS.toNanos(300);

        // Armed on the loop (into the loop's heap), then disarmed from here, as a close off the loop would.
        loop.submit(() -> scheduler.arm(disarmed, Ticker.SYSTEM.nanoTime() + early, early)).syncUninterruptibly();
        scheduler.disarm(disarmed);
        scheduler.arm(kept, Ticker.SYSTEM.nanoTime() + later, later);

        Await.until("the later timer ran", () -> ran.contains("kept"));
        // The disarmed one was due first: had the disarm been lost, it would have run before.
        assertThat(ran).containsExactly("kept");
        assertThat(onLoop).containsExactly(true);
    }
}
