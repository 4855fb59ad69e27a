package dev.smartproxy.testing;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition with a deadline, polling; never a bare sleep. */
public final class Await {
    private Await() {
    }

    /** Polls {@code condition} every few milliseconds until it holds; fails with {@code what} after {@code timeout}. */
    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what);
            }
            LockSupport.parkNanos(5_000_000L);
        }
    }

    /** {@link #until} with a 10 s deadline. */
    public static void until(String what, BooleanSupplier condition) {
        until(what, Duration.ofSeconds(10), condition);
    }

    /**
     * Waits until {@code value} stops changing for {@code quiet}: used to see a flow come to rest
     * under backpressure. Returns the settled value.
     */
    public static <T> T settled(String what, Duration quiet, Duration timeout, Supplier<T> value) {
        long deadline = System.nanoTime() + timeout.toNanos();
        T last = value.get();
        long since = System.nanoTime();
        while (true) {
            LockSupport.parkNanos(10_000_000L);
            T now = value.get();
            if (!now.equals(last)) {
                last = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= quiet.toNanos()) {
                return now;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what + " to settle");
            }
        }
    }
}
