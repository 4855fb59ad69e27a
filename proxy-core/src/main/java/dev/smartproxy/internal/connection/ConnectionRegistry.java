package dev.smartproxy.internal.connection;

import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.event.RouteUpdate;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Every open connection of a proxy, and the counters of all that have closed.
 *
 * <p>A connection is registered when accepted and leaves when all its legs are closed
 * ({@link #watchLeg}: accounted on the close future of its last leg), with
 * exactly one {@link CloseReason}; the counters are updated in the same step, so
 * {@code accepted == open + closed} holds whenever no registration is in flight.
 */
public final class ConnectionRegistry {
    private static final Logger log = LoggerFactory.getLogger(ConnectionRegistry.class);
    /**
     * The route name recorded for an HTTP connection routed request by request (it has no route
     * of its own): shown in its snapshot, never counted as a route in the metrics.
     */
    public static final String PER_REQUEST = "(http)";
    private static final ConnectionKind[] KINDS = ConnectionKind.values();
    private static final CloseReason[] REASONS = CloseReason.values();

    /** Linked through the records themselves: no node or table slot per connection ({@link OpenConnections}). */
    private final OpenConnections open = new OpenConnections();
    private final AtomicLong ids = new AtomicLong();
    private final LongAdder accepted = new LongAdder();
    private final LongAdder[] openByKind = adders(KINDS.length);
    private final LongAdder[] closedByReason = adders(REASONS.length);
    private final LongAdder[] refusedRequests = adders(REASONS.length);
    /**
     * Replaced whole (under {@code this}) when a listener is added or removed, so events being
     * delivered finish on the set they started with; per event type, only the listeners that
     * override its method.
     */
    private volatile ListenerSet listeners;
    /** Snapshots built for connection events (tests: a listener of other events costs none). */
    private final LongAdder eventSnapshots = new LongAdder();
    private final Clock clock;
    /** The connections' clock (they read it here). */
    final Ticker ticker;
    /**
     * The clock's reading less the ticker's when the registry was made (nanoseconds): a connection
     * keeps its opening instant as its difference from this ({@link ManagedConnection}).
     */
    final long clockOffsetNanos;
    private final Object emptyMonitor = new Object();
    private final Telemetry telemetry = new Telemetry(this);

    public ConnectionRegistry(List<ProxyEventListener> listeners, Clock clock, Ticker ticker) {
        this.listeners = new ListenerSet(listeners);
        this.clock = clock;
        this.ticker = ticker;
        java.time.Instant now = clock.instant();
        this.clockOffsetNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano() - ticker.nanoTime();
    }

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    /** Registers a newly accepted client connection. */
    public ManagedConnection register(int routePort, InetSocketAddress client) {
        ManagedConnection c = new ManagedConnection(this, ids.incrementAndGet(), routePort, client, clock.instant());
        accepted.increment();
        open.add(c);
        notify(c, ListenerSet.Event.ACCEPTED, ProxyEventListener::onAccepted);
        return c;
    }

    /**
     * Records that a route took the connection and starts its timers under {@code policy}.
     * Runs on the connection's event loop.
     */
    public void routed(ManagedConnection c, ConnectionKind kind, String routeName, String sni, EffectivePolicy policy,
                       Scheduler scheduler, ConnectionActions actions) {
        telemetry.routed(c, kind, routeName); // first: the record takes its route name from the route's counters
        c.routed(kind, routeName, sni);
        openByKind[kind.ordinal()].increment();
        c.activate(policy, scheduler, actions);
        notify(c, ListenerSet.Event.CLASSIFIED, ProxyEventListener::onClassified);
    }

    void inactivityWarning(ManagedConnection c) {
        log.info("{}idle for {}: closing in {} unless a byte moves", c.log(), c.policy().inactivityTimeout(),
                c.policy().inactivityGrace());
        notify(c, ListenerSet.Event.INACTIVITY_WARNING, ProxyEventListener::onInactivityWarning);
    }

    void halfClosed(ManagedConnection c, CloseReason.Side side) {
        if (log.isDebugEnabled()) {
            log.debug("{}half-closed by the {}", c.log(), side.name().toLowerCase(java.util.Locale.ROOT));
        }
        notify(c, ListenerSet.Event.HALF_CLOSED, (l, info) -> l.onHalfClosed(info, side));
    }

    /**
     * Counts {@code leg} as one of the connection's channels: when the last open leg's close
     * future completes, the connection is {@linkplain #closed closed} (counted, reported). The
     * accept stage watches the client leg, the TCP relay its backend leg. Event loop only.
     */
    public void watchLeg(ManagedConnection c, Channel leg) {
        c.addLeg(leg);
        leg.closeFuture().addListener(c); // the record is its own listener: no object per leg
    }

    /** Removes a connection whose legs are all closed; idempotent. */
    public void closed(ManagedConnection c) {
        if (!c.finish()) {
            return;
        }
        // Counted before it leaves the open set: whoever sees it gone also sees it counted.
        closedByReason[c.closeReason().ordinal()].increment();
        telemetry.closed(c);
        if (c.kind() != null) {
            openByKind[c.kind().ordinal()].decrement();
        }
        open.remove(c);
        if (log.isDebugEnabled()) {
            log.debug("{}closed: {} ({} bytes in, {} bytes out)", c.log(), c.closeReason(), c.bytesFromClient(),
                    c.bytesFromBackend());
        }
        notify(c, ListenerSet.Event.CLOSED, ProxyEventListener::onClosed);
        if (open.isEmpty()) {
            synchronized (emptyMonitor) {
                emptyMonitor.notifyAll();
            }
        }
    }

    private void notify(ManagedConnection c, ListenerSet.Event type,
                        java.util.function.BiConsumer<ProxyEventListener, ConnectionInfo> event) {
        ProxyEventListener[] wanting = listeners.of(type);
        if (wanting.length == 0) {
            return;
        }
        ConnectionInfo info = c.info();
        eventSnapshots.increment();
        for (ProxyEventListener l : wanting) {
            try {
                event.accept(l, info);
            } catch (RuntimeException e) {
                log.warn("{}event listener {} failed", c.log(), l, e);
            }
        }
    }

    /** The metrics and the events of what connections carry. */
    public Telemetry telemetry() {
        return telemetry;
    }

    /** The listeners now (immutable: iterate freely). */
    ListenerSet listeners() {
        return listeners;
    }

    /** Snapshots built so far to deliver connection events (accepted, classified, closed...). */
    long eventSnapshots() {
        return eventSnapshots.sum();
    }

    /** Adds a listener; it receives the events it overrides a method for from now on. */
    public synchronized void addListener(ProxyEventListener listener) {
        listeners = listeners.with(listener);
    }

    /** Removes a listener; returns whether it was there. */
    public synchronized boolean removeListener(ProxyEventListener listener) {
        ListenerSet before = listeners;
        listeners = before.without(listener);
        return listeners != before;
    }

    /**
     * Tells every listener that a live route update was applied; on the updating thread. A
     * listener's exception is logged and goes no further.
     */
    public void routesUpdated(RouteUpdate update) {
        for (ProxyEventListener l : listeners.of(ListenerSet.Event.ROUTES_UPDATED)) {
            try {
                l.onRoutesUpdated(update);
            } catch (RuntimeException e) {
                log.warn("event listener {} failed on a route update", l, e);
            }
        }
    }

    /**
     * Counts an HTTP request refused for {@code reason} on a connection that stays open (a route's
     * IP rules or maximum); see {@link ProxyStats#refusedRequests()}.
     */
    public void requestRefused(CloseReason reason) {
        refusedRequests[reason.ordinal()].increment();
    }

    /** Open connections now. */
    public int openCount() {
        return open.size();
    }

    /** Applies {@code action} to every open connection. */
    public void forEachOpen(Consumer<ManagedConnection> action) {
        open.forEach(action);
    }

    /** Snapshots of the open connections, by id. */
    public List<ConnectionInfo> snapshot() {
        List<ConnectionInfo> out = new ArrayList<>(open.size());
        open.forEach(c -> out.add(c.info()));
        out.sort((a, b) -> Long.compare(a.id(), b.id()));
        return out;
    }

    /** The counters. */
    public ProxyStats stats() {
        Map<ConnectionKind, Long> kinds = new EnumMap<>(ConnectionKind.class);
        for (ConnectionKind k : KINDS) {
            long n = openByKind[k.ordinal()].sum();
            if (n != 0) {
                kinds.put(k, n);
            }
        }
        Map<CloseReason, Long> reasons = new EnumMap<>(CloseReason.class);
        for (CloseReason r : REASONS) {
            long n = closedByReason[r.ordinal()].sum();
            if (n != 0) {
                reasons.put(r, n);
            }
        }
        Map<CloseReason, Long> requests = new EnumMap<>(CloseReason.class);
        for (CloseReason r : REASONS) {
            long n = refusedRequests[r.ordinal()].sum();
            if (n != 0) {
                requests.put(r, n);
            }
        }
        return new ProxyStats(open.size(), kinds, accepted.sum(), reasons, requests);
    }

    /** Waits until no connection is open or {@code timeout} passes; returns whether it is empty. */
    public boolean awaitEmpty(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (emptyMonitor) {
            while (!open.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                emptyMonitor.wait(Math.max(1, left / 1_000_000));
            }
        }
        return true;
    }
}
