package dev.smartproxy.internal.connection;

/**
 * A check that is its own entry in a timer queue: arming it on a {@link Scheduler} that keeps
 * entries in a queue of its own ({@link TimerQueue}) allocates nothing, so an idle connection
 * holds no scheduled-task object, no cancel handle and no lambda for its timer. On any other
 * scheduler it is scheduled as a plain task ({@link Scheduler#arm}).
 *
 * <p>At most one arming is in force: arming again replaces it. Touched by its owner's thread only.
 */
public abstract class TimerEntry implements Runnable {
    /** Not in a queue. */
    static final int IDLE = -1;
    /** Taken out of its queue because it is due, about to run. */
    static final int FIRING = -2;

    /** When it is due (the scheduler's clock), or {@code Long.MAX_VALUE} while not armed. */
    long timerDeadline = Long.MAX_VALUE;
    /** Its slot in a {@link TimerQueue}'s heap, {@link #IDLE} or {@link #FIRING}. */
    int timerIndex = IDLE;

    /**
     * The task of a scheduler without a queue of entries (armed by {@link Scheduler#arm}'s default),
     * or null. Not a field here: an entry on a {@link TimerQueue} (every connection in the proxy)
     * never has one, so a subclass that may be armed elsewhere keeps it itself and overrides both
     * methods ({@link ManagedConnection} does, in the state only some connections need).
     */
    Scheduler.Cancellable timerTask() {
        return null;
    }

    /** Keeps the task of a scheduler without a queue of entries; see {@link #timerTask()}. */
    void timerTask(Scheduler.Cancellable task) {
        if (task != null) {
            throw new UnsupportedOperationException(getClass().getName()
                    + " keeps no task: arm it on a TimerQueue, or override timerTask()");
        }
    }

    /** The deadline it is armed for, or {@code Long.MAX_VALUE} if it is not armed. */
    protected final long armedDeadline() {
        return timerDeadline;
    }

    /** Whether it is armed (and has not started to run). */
    protected final boolean armed() {
        return timerDeadline != Long.MAX_VALUE;
    }
}
