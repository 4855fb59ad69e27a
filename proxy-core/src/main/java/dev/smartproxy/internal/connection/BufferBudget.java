package dev.smartproxy.internal.connection;

import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy-wide account of bytes the proxy holds on behalf of clients: data read from a
 * client that cannot move on yet (pending data while a backend connect is in flight, a
 * ClientHello being peeked at, a WebSocket frame being reassembled). One instance per proxy.
 *
 * <h2>Policy: backpressure, never failure</h2>
 * Each buffer that holds such bytes has a {@link Holder} and reports the bytes it holds after
 * each read ({@link Holder#hold}). {@link #used()} is the sum over all holders.
 * <ul>
 *   <li><b>Floor.</b> A holder that holds at most {@link #FLOOR} bytes (16 KiB, the size of an
 *       HAProxy buffer) may always go on reading, however full the budget is. So every
 *       connection can always make progress on a small message, and the budget can never
 *       stop the proxy as a whole.</li>
 *   <li><b>Pool.</b> Above its floor, a holder may go on reading while {@code used() <= limit}.
 *       When a read leaves the budget over its limit, the holder that made it (a holder above
 *       its floor) is told to <em>stop reading</em> its channel ({@code hold} returns false; the
 *       caller turns auto-read off). Nothing is dropped and nothing is closed: the client's
 *       TCP window fills and the client waits. Holders at or below the floor are never paused,
 *       so the ones stopped are those holding the most.</li>
 *   <li><b>Resume.</b> A stopped holder waits in a FIFO wake-up list. When bytes are released
 *       and the budget is under its limit, the releaser wakes
 *       {@code ceil((limit - used) / 64 KiB)} waiters, oldest first (at least one): each
 *       wake-up runs the holder's {@code onAvailable} callback on the holder's own event loop,
 *       which resumes reading; the next {@code hold} decides again. A holder whose read still
 *       fits while others wait passes one wake-up on, and a wake-up that finds its holder closed
 *       or reading again (its level fell back to the floor) goes to the next waiter. Waking is
 *       bounded by the room there is (no herd of every waiter for a few bytes), costs nothing
 *       while nobody waits, and never polls or sweeps. A woken holder whose client then sends
 *       nothing uses no room, but the waiters behind it wait for the next release.</li>
 *   <li><b>Bound.</b> The check is made after each read, so the budget can be passed by at
 *       most one socket read (up to 64 KiB with Netty's default allocator) per holder that was
 *       reading when it filled, plus the floors of the holders below their floor.</li>
 *   <li><b>Stuck holders.</b> If the budget is full of holders that cannot progress without
 *       more (partial ClientHellos, partial WebSocket frames) they stay paused until their
 *       own timeouts end them: {@code initialDataTimeout} for a peek, the inactivity timeout
 *       for a WebSocket (reassembly moves no payload, so it does not reset it), and
 *       {@code connectTimeout} for pending data (which a completed connect drains at once).
 *       Each close releases what it held and wakes the next waiters.</li>
 * </ul>
 *
 * <p>Thread-safe. The hot path is one atomic add per change of a holder's level (none when the
 * level does not change) and nothing per byte. A holder itself is confined to its channel's
 * event loop.
 * <pre>{@code
 * BufferBudget.Holder h = budget.holder(ch.eventLoop(), conn, () -> ch.config().setAutoRead(true));
 * // after each read:
 * if (!h.hold(bytesHeldNow)) {
 *     ch.config().setAutoRead(false); // resumed through onAvailable
 * }
 * // when the bytes move on or the channel closes:
 * h.close();
 * }</pre>
 */
public final class BufferBudget {
    private static final Logger log = LoggerFactory.getLogger(BufferBudget.class);

    /** What each holder may always hold, whatever the budget's state: 16 KiB. */
    public static final int FLOOR = 16 * 1024;
    /** The room assumed for one woken holder: one socket read with Netty's default allocator. */
    static final int WAKE_QUANTUM = 64 * 1024;

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final ConcurrentLinkedQueue<Holder> waiters = new ConcurrentLinkedQueue<>();
    private final AtomicInteger waiting = new AtomicInteger();

    /**
     * A budget of {@code limit} bytes.
     *
     * @throws IllegalArgumentException if {@code limit} is not positive
     */
    public BufferBudget(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("bufferBudget: " + limit + " (expected: > 0)");
        }
        this.limit = limit;
    }

    /** The limit in bytes. */
    public long limit() {
        return limit;
    }

    /** Bytes held by all holders now. */
    public long used() {
        return used.get();
    }

    /** Holders stopped and waiting for room now. */
    public int waiting() {
        return waiting.get();
    }

    /**
     * A new holder, holding nothing.
     *
     * @param loop        the event loop of the channel whose reads the holder accounts for;
     *                    {@code onAvailable} runs there
     * @param owner       the connection whose {@code bufferedBytes} include this holder's, or null
     * @param onAvailable called on {@code loop} after {@link Holder#hold} returned false, once there
     *                    may be room again: resume reading (the next {@code hold} decides again)
     */
    public Holder holder(EventExecutor loop, ManagedConnection owner, Runnable onAvailable) {
        return new Holder(Objects.requireNonNull(loop, "loop"), owner, Objects.requireNonNull(onAvailable,
                "onAvailable"));
    }

    @Override
    public String toString() {
        return "BufferBudget[used=" + used.get() + " limit=" + limit + " waiting=" + waiting.get() + "]";
    }

    /** Wakes up to {@code n} waiters, oldest first. */
    private void wake(long n) {
        for (long i = 0; i < n; i++) {
            Holder h = waiters.poll();
            if (h == null) {
                return;
            }
            waiting.decrementAndGet();
            h.queued = false; // before the signal: a holder that parks again must be able to re-enter
            h.signal();
        }
    }

    /** After a release: wakes as many waiters as the room left can feed, at least one. */
    private void wakeForRoom(long usedNow) {
        long room = limit - usedNow;
        if (room > 0) {
            wake((room + WAKE_QUANTUM - 1) / WAKE_QUANTUM);
        }
    }

    /**
     * The bytes one buffer holds on behalf of one client, counted in its budget. Confined to
     * the event loop given at creation, except for the wake-up, which any thread may trigger.
     */
    public final class Holder {
        private final EventExecutor loop;
        private final ManagedConnection owner;
        private final Runnable onAvailable;
        private long held;
        private boolean closed;
        /** The last {@code hold} said stop and no wake-up has run since. */
        private boolean stopped;
        /** In the wake-up list (written by the waker and the holder's loop). */
        private volatile boolean queued;

        private Holder(EventExecutor loop, ManagedConnection owner, Runnable onAvailable) {
            this.loop = loop;
            this.owner = owner;
            this.onAvailable = onAvailable;
        }

        /** Bytes this holder holds now. */
        public long held() {
            return held;
        }

        /**
         * Records that this holder now holds {@code bytes} (its level, not a delta) and says
         * whether its channel may go on reading: true at or below {@link #FLOOR}, or while the
         * budget (this level included) is within its limit. On false the caller stops reading
         * (auto-read off) and is called back once through {@code onAvailable} when there may be
         * room, unless a later {@code hold} returns true first; the bytes already held stay
         * held and counted. After {@link #close()} this does nothing and returns true.
         */
        public boolean hold(long bytes) {
            if (closed) {
                return true;
            }
            if (bytes < 0) {
                throw new IllegalArgumentException("bytes: " + bytes + " (expected: >= 0)");
            }
            long delta = bytes - held;
            long now;
            if (delta == 0) {
                now = used.get();
            } else {
                held = bytes;
                now = used.addAndGet(delta);
                if (owner != null) {
                    owner.held(delta);
                }
                if (now < limit && waiting.get() > 0) {
                    if (delta < 0) {
                        wakeForRoom(now);
                    } else {
                        wake(1); // a reader that still fits passes one wake-up on
                    }
                }
            }
            if (bytes <= FLOOR || now <= limit) {
                stopped = false;
                return true;
            }
            stopped = true;
            park();
            return false;
        }

        /** Releases everything this holder holds and leaves the wake-up list; idempotent. */
        public void close() {
            if (closed) {
                return;
            }
            hold(0);
            closed = true;
            if (queued && waiters.remove(this)) {
                waiting.decrementAndGet();
                queued = false;
            }
        }

        /** Whether {@link #close()} was called. */
        public boolean isClosed() {
            return closed;
        }

        private void park() {
            if (!queued) {
                queued = true;
                waiting.incrementAndGet(); // first: the count never under-reports the list
                waiters.add(this);
            }
            // A release between our add and the enqueue saw nobody waiting: look again.
            if (used.get() < limit) {
                wake(1);
            }
        }

        /** Runs {@code onAvailable} on the holder's loop, never inline. */
        private void signal() {
            try {
                loop.execute(() -> {
                    if (closed || !stopped) {
                        // Closed, or reading again since (its level fell to the floor): the next waiter's turn.
                        if (used.get() < limit) {
                            wake(1);
                        }
                        return;
                    }
                    stopped = false;
                    onAvailable.run();
                });
            } catch (RejectedExecutionException e) {
                log.debug("{}wake-up dropped: the event loop is shutting down", owner == null ? "" : owner.log());
            }
        }
    }
}
