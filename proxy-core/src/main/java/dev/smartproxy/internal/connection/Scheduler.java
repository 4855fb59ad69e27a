package dev.smartproxy.internal.connection;

/**
 * Runs a task after a delay: the connection's event loop in the proxy, a manual clock in tests.
 * Tasks run on the thread that owns the connection.
 */
@FunctionalInterface
public interface Scheduler {
    /** Schedules {@code task} in {@code delayNanos} nanoseconds. */
    Cancellable schedule(Runnable task, long delayNanos);

    /** A scheduled task that may be cancelled. */
    @FunctionalInterface
    interface Cancellable {
        void cancel();
    }
}
