package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.connection.Scheduler;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;

/** Schedules a connection's timer checks on the connection's own event loop. */
final class EventLoopScheduler implements Scheduler {
    private final EventLoop loop;

    /** The scheduler of the loop the caller runs on, shared by its connections; cached per loop thread. */
    private static final io.netty.util.concurrent.FastThreadLocal<EventLoopScheduler> CURRENT =
            new io.netty.util.concurrent.FastThreadLocal<>();

    EventLoopScheduler(EventLoop loop) {
        this.loop = loop;
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
    public Cancellable schedule(Runnable task, long delayNanos) {
        ScheduledFuture<?> f = loop.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        return () -> f.cancel(false);
    }
}
