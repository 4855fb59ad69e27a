package dev.smartproxy.internal.connection;

import java.time.Duration;
import java.util.PriorityQueue;

/** A ticker and scheduler whose time moves only when a test says so. Single-threaded. */
final class ManualClock implements Ticker, Scheduler {
    private record Task(long due, long seq, Runnable run, boolean[] cancelled) {
    }

    private final PriorityQueue<Task> queue = new PriorityQueue<>((a, b) ->
            a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
    private long now = 1_000_000_000L;
    private long seq;
    private int scheduled;

    @Override
    public long nanoTime() {
        return now;
    }

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        boolean[] cancelled = new boolean[1];
        queue.add(new Task(now + delayNanos, seq++, task, cancelled));
        scheduled++;
        return () -> cancelled[0] = true;
    }

    /** Moves time forward by {@code d}, running every task that falls due, at its due time. */
    void advance(Duration d) {
        long end = now + d.toNanos();
        while (!queue.isEmpty() && queue.peek().due <= end) {
            Task t = queue.poll();
            if (!t.cancelled[0]) {
                now = Math.max(now, t.due);
                t.run.run();
            }
        }
        now = end;
    }

    /** Tasks scheduled since the start (cancelled or not). */
    int scheduledCount() {
        return scheduled;
    }

    /** Tasks still pending and not cancelled. */
    long pending() {
        return queue.stream().filter(t -> !t.cancelled[0]).count();
    }
}
