package dev.smartproxy.internal.connection;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;

/**
 * The timer entries of one event loop, in one binary heap ordered by deadline, with a single
 * task scheduled on the loop (its {@code tasks} scheduler) for the earliest. Each connection's timer is its record itself
 * ({@link TimerEntry}): where a scheduled task per connection cost a {@code ScheduledFutureTask},
 * a cancel handle and a lambda (about 80 bytes for as long as the connection is idle), an entry
 * costs one slot of this heap's array.
 *
 * <p>Exact: entries run at their deadline, as the loop's own scheduled tasks would (no ticks, no
 * rounding); arming costs O(log n), and the loop's task is re-scheduled only when an entry becomes
 * the earliest. Every deadline uses the clock of the {@link Ticker} given here, the same as the
 * connections' ({@link Ticker#SYSTEM} in the proxy).
 *
 * <p>Other tasks ({@link #schedule}) go to {@code tasks} as they are. Single-threaded: every
 * method must be called on the thread that runs {@code tasks}' tasks (the event loop).
 * <pre>{@code
 * Scheduler s = new TimerQueue(loopScheduler, Ticker.SYSTEM);
 * s.arm(connection, deadline, deadline - Ticker.SYSTEM.nanoTime()); // connection extends TimerEntry
 * }</pre>
 */
public final class TimerQueue implements Scheduler {
    private static final Logger log = LoggerFactory.getLogger(TimerQueue.class);

    private final Scheduler tasks;
    private final Ticker ticker;
    private TimerEntry[] heap = new TimerEntry[16];
    private int size;
    /** The loop's task for the earliest deadline, and that deadline; null / MAX_VALUE when none. */
    private Cancellable wakeup;
    private long wakeupAt = Long.MAX_VALUE;
    /** The entries due in one run, reused. */
    private final ArrayList<TimerEntry> due = new ArrayList<>();
    private final Runnable runDue = this::runDue;

    /**
     * @param tasks  runs this queue's wake-up task, and the tasks given to {@link #schedule}
     * @param ticker the clock of every deadline armed here
     */
    public TimerQueue(Scheduler tasks, Ticker ticker) {
        this.tasks = tasks;
        this.ticker = ticker;
    }

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        return tasks.schedule(task, delayNanos);
    }

    /** Entries armed now. */
    public int size() {
        return size;
    }

    /** Arms {@code e} for {@code deadline} (this queue's clock), replacing its arming if any. */
    @Override
    public void arm(TimerEntry e, long deadline, long delayNanos) {
        cancelTask(e);
        if (e.timerIndex >= 0) {
            removeAt(e.timerIndex);
        }
        e.timerDeadline = deadline;
        if (size == heap.length) {
            // By half: an idle connection's slot costs 4 bytes, and the array's spare slots are on average a
            // fifth of it this way instead of a third (doubling: 9,500 connections kept 16,384 slots, 6.9 B each).
            heap = Arrays.copyOf(heap, size + (size >> 1));
        }
        e.timerIndex = size;
        heap[size++] = e;
        siftUp(e.timerIndex);
        if (deadline < wakeupAt) {
            wake(deadline);
        }
    }

    /** Disarms {@code e}; nothing if it is not armed. */
    @Override
    public void disarm(TimerEntry e) {
        cancelTask(e);
        if (e.timerIndex >= 0) {
            removeAt(e.timerIndex);
        }
        e.timerIndex = TimerEntry.IDLE;
        e.timerDeadline = Long.MAX_VALUE;
        if (size == 0 && wakeup != null) {
            wakeup.cancel(); // nothing left to wake for
            wakeup = null;
            wakeupAt = Long.MAX_VALUE;
        }
        if (size < heap.length / 4 && heap.length > 16) {
            heap = Arrays.copyOf(heap, Math.max(16, heap.length / 2)); // a burst of connections has gone
        }
    }

    /** An entry armed as a plain task (off the loop, by the default {@link Scheduler#arm}) is cancelled first. */
    private static void cancelTask(TimerEntry e) {
        Cancellable task = e.timerTask();
        if (task != null) {
            task.cancel();
            e.timerTask(null);
        }
    }

    private void wake(long deadline) {
        if (wakeup != null) {
            wakeup.cancel();
        }
        wakeupAt = deadline;
        wakeup = tasks.schedule(runDue, Math.max(0, deadline - ticker.nanoTime()));
    }

    /** The loop's task: runs every entry that is due, then waits for the next deadline. */
    private void runDue() {
        wakeup = null;
        wakeupAt = Long.MAX_VALUE;
        long now = ticker.nanoTime();
        // Taken out first: an entry that re-arms for now runs in the next wakeup, never in a loop here.
        while (size > 0 && heap[0].timerDeadline <= now) {
            TimerEntry e = heap[0];
            removeAt(0);
            e.timerIndex = TimerEntry.FIRING;
            due.add(e);
        }
        try {
            for (int i = 0; i < due.size(); i++) {
                TimerEntry e = due.get(i);
                if (e.timerIndex != TimerEntry.FIRING) {
                    continue; // disarmed or re-armed by an entry that ran before it
                }
                e.timerIndex = TimerEntry.IDLE;
                e.timerDeadline = Long.MAX_VALUE;
                try {
                    e.run();
                } catch (Throwable t) {
                    log.warn("a timer check failed", t);
                }
            }
        } finally {
            due.clear();
        }
        if (size > 0 && wakeup == null) {
            wake(heap[0].timerDeadline);
        }
    }

    private void removeAt(int i) {
        TimerEntry removed = heap[i];
        removed.timerIndex = TimerEntry.IDLE;
        int last = --size;
        TimerEntry moved = heap[last];
        heap[last] = null;
        if (i != last) {
            heap[i] = moved;
            moved.timerIndex = i;
            siftDown(i);
            if (heap[i] == moved) {
                siftUp(i);
            }
        }
    }

    private void siftUp(int i) {
        TimerEntry e = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            TimerEntry p = heap[parent];
            if (p.timerDeadline <= e.timerDeadline) {
                break;
            }
            heap[i] = p;
            p.timerIndex = i;
            i = parent;
        }
        heap[i] = e;
        e.timerIndex = i;
    }

    private void siftDown(int i) {
        TimerEntry e = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && heap[right].timerDeadline < heap[child].timerDeadline) {
                child = right;
            }
            if (e.timerDeadline <= heap[child].timerDeadline) {
                break;
            }
            heap[i] = heap[child];
            heap[i].timerIndex = i;
            i = child;
        }
        heap[i] = e;
        e.timerIndex = i;
    }
}
