package dev.smartproxy.internal.connection;

/**
 * Runs a task after a delay: the connection's event loop in the proxy, a manual clock in tests.
 * Tasks run on the thread that owns the connection.
 */
@FunctionalInterface
public interface Scheduler {
    /** Schedules {@code task} in {@code delayNanos} nanoseconds. */
    Cancellable schedule(Runnable task, long delayNanos);

    /**
     * Arms {@code entry} to run at {@code deadline}, {@code delayNanos} from now (the deadline in the
     * clock of the connection's {@link Ticker}), replacing its arming if any. This default schedules
     * it as a task; the event loop's scheduler keeps it in its loop's {@link TimerQueue} instead.
     */
    default void arm(TimerEntry entry, long deadline, long delayNanos) {
        disarm(entry);
        entry.timerDeadline = deadline;
        entry.timerTask(schedule(() -> {
            entry.timerTask(null);
            entry.timerDeadline = Long.MAX_VALUE;
            entry.run();
        }, delayNanos));
    }

    /** Disarms {@code entry}; nothing if it is not armed. */
    default void disarm(TimerEntry entry) {
        Cancellable task = entry.timerTask();
        if (task != null) {
            task.cancel();
            entry.timerTask(null);
            entry.timerDeadline = Long.MAX_VALUE;
        }
    }

    /** A scheduled task that may be cancelled. */
    @FunctionalInterface
    interface Cancellable {
        void cancel();
    }
}
