package dev.smartproxy.internal.connection;

/** A monotonic nanosecond clock, injectable so tests can move time. */
@FunctionalInterface
public interface Ticker {
    /** The system ticker, {@link System#nanoTime()}. */
    Ticker SYSTEM = System::nanoTime;

    /** Current monotonic time in nanoseconds; only differences are meaningful. */
    long nanoTime();
}
