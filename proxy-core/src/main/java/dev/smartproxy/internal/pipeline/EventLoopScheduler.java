package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.connection.Scheduler;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.connection.TimerEntry;
import dev.smartproxy.internal.connection.TimerQueue;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/**
 * Schedules a connection's timer checks on the connection's own event loop: connection records
 * ({@link TimerEntry}) in the loop's {@link TimerQueue}, one heap per loop, other tasks as the
 * loop's scheduled tasks. Arming or disarming from another thread is handed to the loop, in
 * order, so the heap is only ever touched by its loop.
 */
final class EventLoopScheduler implements Scheduler {
    private final EventLoop loop;
    /** The timer entries armed through this scheduler; the connections' clock is {@link Ticker#SYSTEM}. */
    private final TimerQueue timers;

    /** The scheduler of the loop the caller runs on, shared by its connections; cached per loop thread. */
    private static final io.netty.util.concurrent.FastThreadLocal<EventLoopScheduler> CURRENT =
            new io.netty.util.concurrent.FastThreadLocal<>();

    EventLoopScheduler(EventLoop loop) {
        this.loop = loop;
        this.timers = new TimerQueue(this::scheduleOnLoop, Ticker.SYSTEM);
    }

    /** The scheduler of {@code loop}: one per loop when called on it (as the router is), so idle connections share it. */
    static EventLoopScheduler of(EventLoop loop) {
        if (!loop.inEventLoop()) {
            return new EventLoopScheduler(loop);
        }
        EventLoopScheduler s = CURRENT.get();
        if (s == null || s.loop != loop) {
            s = new EventLoopScheduler(loop);
            CURRENT.set(s);
        }
        return s;
    }

    @Override
    public void arm(TimerEntry entry, long deadline, long delayNanos) {
        if (loop.inEventLoop()) {
            timers.arm(entry, deadline, delayNanos);
        } else {
            // The loop's heap is touched by the loop alone: hand the arming over, same deadline.
            loop.execute(() -> timers.arm(entry, deadline, Math.max(0, deadline - Ticker.SYSTEM.nanoTime())));
        }
    }

    @Override
    public void disarm(TimerEntry entry) {
        if (loop.inEventLoop()) {
            timers.disarm(entry);
        } else {
            loop.execute(() -> timers.disarm(entry));
        }
    }

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        return scheduleOnLoop(task, delayNanos);
    }

    private Cancellable scheduleOnLoop(Runnable task, long delayNanos) {
        ScheduledFuture<?> f = loop.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        return () -> f.cancel(false);
    }
}
