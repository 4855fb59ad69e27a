package dev.smartproxy.internal.metrics;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The metrics sampler of one proxy: runs a task every period on a daemon thread of its own
 * ({@code smartproxy-metrics}), off the accept loop and the I/O threads, since the task walks
 * every open connection. An exception is logged and the next run still happens. Stopped by
 * {@link #close()}, which lets a run under way finish (no interrupt).
 */
public final class Sampler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Sampler.class);
    static final String THREAD_NAME = "smartproxy-metrics";

    private final ScheduledExecutorService executor;

    /** Starts running {@code task} every {@code period}, the first run one period from now. */
    public Sampler(Duration period, Runnable task) {
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, THREAD_NAME);
            t.setDaemon(true);
            return t;
        });
        long nanos = period.toNanos();
        executor.scheduleAtFixedRate(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.warn("metrics sampling failed; trying again in {}", period, e);
            }
        }, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** Stops sampling and waits (briefly) for a run under way. Idempotent. */
    @Override
    public void close() {
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether it is stopped and no run is under way. */
    public boolean isStopped() {
        return executor.isTerminated();
    }
}
