package dev.smartproxy.internal.connection;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The open connections of a registry, linked through the records themselves
 * ({@link ManagedConnection}'s {@code openPrev}/{@code openNext}): no node object and no table
 * slot per connection, as a concurrent hash set would keep (about 31 bytes per idle connection
 * with compact headers, 39 without).
 *
 * <p>The records are spread over {@value #STRIPES} doubly linked lists by id, each under its own
 * lock, so event loops adding and removing connections at once rarely meet; the count is one
 * atomic. {@link #forEach} copies one list under its lock and runs the action on the copy outside
 * it: the action may take its time or touch the set, and sees each connection that was open when
 * its list was copied (weakly consistent, as a concurrent set's iteration is).
 *
 * <p>Thread-safe.
 */
final class OpenConnections {
    private static final int STRIPES = 16;

    private final Stripe[] stripes = new Stripe[STRIPES];
    private final AtomicInteger size = new AtomicInteger();

    /** One list: its first record and its length, guarded by the stripe itself. */
    private static final class Stripe {
        ManagedConnection head;
        int size;
    }

    OpenConnections() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Stripe();
        }
    }

    private Stripe stripe(ManagedConnection c) {
        return stripes[(int) (c.id() & (STRIPES - 1))];
    }

    /** Adds {@code c}, which must not be in a set. */
    void add(ManagedConnection c) {
        Stripe s = stripe(c);
        synchronized (s) {
            ManagedConnection first = s.head;
            c.openPrev = null;
            c.openNext = first;
            if (first != null) {
                first.openPrev = c;
            }
            s.head = c;
            s.size++;
        }
        size.incrementAndGet();
    }

    /** Removes {@code c}; returns false if it was not in the set. */
    boolean remove(ManagedConnection c) {
        Stripe s = stripe(c);
        synchronized (s) {
            ManagedConnection prev = c.openPrev;
            ManagedConnection next = c.openNext;
            if (prev == null) {
                if (s.head != c) {
                    return false;
                }
                s.head = next;
            } else {
                prev.openNext = next;
            }
            if (next != null) {
                next.openPrev = prev;
            }
            c.openPrev = null;
            c.openNext = null;
            s.size--;
        }
        size.decrementAndGet();
        return true;
    }

    /** Open connections now. */
    int size() {
        return size.get();
    }

    boolean isEmpty() {
        return size.get() == 0;
    }

    /** Runs {@code action} on every connection open when its list was copied (see the class comment). */
    void forEach(Consumer<ManagedConnection> action) {
        for (Stripe s : stripes) {
            ManagedConnection[] copy;
            synchronized (s) {
                if (s.size == 0) {
                    continue;
                }
                copy = new ManagedConnection[s.size];
                int i = 0;
                for (ManagedConnection c = s.head; c != null; c = c.openNext) {
                    copy[i++] = c;
                }
            }
            for (ManagedConnection c : copy) {
                action.accept(c);
            }
        }
    }
}
