package dev.smartproxy.internal.connection;

import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.metrics.RouteCounters;
import dev.smartproxy.route.Route;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import java.util.function.LongSupplier;

/**
 * The proxy's record of one client connection: identity, kind, route, traffic, timestamps,
 * half-close state, close reason, and the timers of its {@link EffectivePolicy}.
 *
 * <h2>Timers</h2>
 * At most one check is scheduled per connection, for the earliest of its deadlines (lifetime,
 * half-close grace, inactivity or the end of an inactivity warning). Traffic only records the
 * time of the last byte; when the check runs it compares the deadlines with the current state
 * and re-arms for the next one. So each connection costs O(1) work per timeout period, however
 * busy it is, and nothing ever sweeps all connections.
 *
 * <p>Written only by the connection's event loop (traffic, timers and FINs all run there);
 * fields that snapshots read from other threads are volatile. Not a ChannelHandler: the
 * handlers report to it, and it asks them to close through {@link ConnectionActions}.
 *
 * <p><b>Memory.</b> An idle connection holds this record for as long as it lives, so the record
 * is its own timer entry ({@link TimerEntry}: a slot in its event loop's {@link TimerQueue}, no
 * scheduled task) and its own close listener on every leg
 * ({@link ChannelFutureListener}) rather than a lambda for each, keeps its opening time as a long,
 * and builds its log prefix only when a line is logged. Its kind, close reason, route port and
 * flags are packed into one int ({@code state}, changed by compare-and-set: some flags are set
 * from other threads); what only some connections ever need (a PROXY-protocol peer, a drain
 * deadline, an inactivity warning, a half-close, a supplier of buffered bytes) is in a
 * {@link Rare} object made the first time one of them is needed, so an idle relayed connection
 * has none.
 *
 * <p>Over 600 lines on purpose, and one job, the record of one connection: everything a
 * connection carries for its whole life (its timer and deadlines, legs, counters, its route and
 * retirement, its close) is in this one object for the memory reason above: each helper object
 * split out of it would be one more object per open connection, and an idle passthrough
 * connection's whole budget is about 2 KiB (only the rarely needed state is apart, in
 * {@link Rare}). Most of its length is the packing that keeps it at 144 bytes: the bits of
 * {@code state}, set by compare-and-set, and their accessors. The rules that need no
 * per-connection state live apart ({@link EffectivePolicy}, {@link CloseReasons},
 * {@link TimerQueue}, {@link SharedNames}).
 */
public final class ManagedConnection extends TimerEntry implements ChannelFutureListener {
    private static final ConnectionKind[] KINDS = ConnectionKind.values();
    private static final CloseReason[] REASONS = CloseReason.values();

    // The bits of state: the close reason's ordinal + 1 (0: none), the kind's ordinal + 1 (0: not routed), flags.
    private static final int REASON_MASK = 0xFF;
    private static final int KIND_SHIFT = 8;
    private static final int KIND_MASK = 0xF << KIND_SHIFT;
    private static final int CLIENT_ADDRESS_SET = 1 << 12;
    /** Set (for good) once a live update asked for a drain: a later update may have to cancel it. */
    private static final int DRAIN_ASKED = 1 << 13;
    /** Counted as an upgraded WebSocket in the metrics (so its close is counted too). */
    private static final int WEBSOCKET_COUNTED = 1 << 14;
    private static final int WEBSOCKET = 1 << 15;
    private static final int CLIENT_INPUT_CLOSED = 1 << 16;
    private static final int BACKEND_INPUT_CLOSED = 1 << 17;
    /** The metrics sampler skips finished connections (their bytes are in the closed totals). */
    private static final int FINISHED = 1 << 18;
    /** Who sent the first FIN (at most one of the two is set). */
    private static final int FIRST_FIN_CLIENT = 1 << 19;
    private static final int FIRST_FIN_BACKEND = 1 << 20;
    /** The route name is the route counters' name (a route's connection, the usual case). */
    private static final int NAME_BY_COUNTERS = 1 << 21;
    /** The route name is {@link ConnectionRegistry#PER_REQUEST}. Neither bit: {@link Rare#routeName}, or none. */
    private static final int NAME_PER_REQUEST = 1 << 22;
    private static final int NAME_MASK = NAME_BY_COUNTERS | NAME_PER_REQUEST;
    /** Four bits the connection's branch handler keeps here ({@link #handlerFlag}): one field fewer in it. */
    private static final int HANDLER_SHIFT = 23;
    /** How many {@linkplain #handlerFlag handler flags} there are. */
    public static final int HANDLER_FLAGS = 4;
    /** The opening instant did not fit {@link #openedSkew}: it is in {@link Rare#openedAtEpochNanos}. */
    private static final int OPENED_IN_RARE = 1 << 27;

    static {
        if (REASONS.length >= REASON_MASK || KINDS.length >= (KIND_MASK >>> KIND_SHIFT)) {
            throw new ExceptionInInitializerError("more close reasons or kinds than the state's bits hold");
        }
    }

    private final long id;
    /** The logical route port (1..65535; a char, not an int: two bytes that fit the record's padding). */
    private final char routePort;
    /** See the bits above; written by compare-and-set ({@link #STATE}), read from any thread. */
    private volatile int state;
    private static final VarHandle STATE;
    private static final VarHandle RARE;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(ManagedConnection.class, "state", int.class);
            RARE = l.findVarHandle(ManagedConnection.class, "rare", Rare.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * The client: the peer, or the address a trusted proxy's PROXY protocol header carried (then
     * the peer is the client leg's remote address, or if that is not the very object it was, kept
     * in {@link Rare#peerAddress}).
     */
    private volatile InetSocketAddress clientAddress;
    /**
     * When it was opened, as the clock read it then (to the nanosecond): {@link #openedNanos} plus
     * the registry's offset from ticker to clock ({@link ConnectionRegistry#clockOffsetNanos}) plus
     * this skew, which is the change of that offset since the registry started (the two clocks'
     * reads a few nanoseconds apart, and the steps of the wall clock since: an int, not a second
     * long). A skew past an int's range (a wall clock stepped by more than about 2 s since the
     * proxy started) keeps the instant in {@link Rare#openedAtEpochNanos} instead.
     */
    private final int openedSkew;
    private final long openedNanos;

    /**
     * The route object the connection was routed by (an HTTP connection: its latest request's),
     * or null: what a live route update compares with its new table to find removed or changed routes.
     */
    private volatile Route route;
    private static final AtomicReferenceFieldUpdater<ManagedConnection, Route> ROUTE =
            AtomicReferenceFieldUpdater.newUpdater(ManagedConnection.class, Route.class,
                    "route");
    private volatile String sni;
    private volatile InetSocketAddress backendAddress;
    private volatile long bytesFromClient;
    private volatile long bytesFromBackend;
    /** Bytes written to the client socket (TLS records included); see {@link #wroteToClient}. */
    private volatile long bytesToClient;
    /** The metric counters of the connection's route, looked up once when it is routed. */
    private volatile RouteCounters routeCounters;
    private volatile long lastActivityNanos;
    /** Bytes counted in the proxy's {@link BufferBudget} for this connection; written by its event loop only. */
    private volatile long heldBytes;

    private volatile EffectivePolicy policy;
    private Scheduler scheduler;
    private ConnectionActions actions;

    /** The neighbours in the registry's list of open connections ({@link OpenConnections}), under its lock. */
    ManagedConnection openPrev;
    ManagedConnection openNext;

    /** What only some connections need; null until one of them is (see the class comment). */
    private volatile Rare rare;

    /**
     * The state few connections ever have, made on first need ({@link #rare()}) and kept: an idle
     * relayed connection has none of it. Fields read by other threads are volatile.
     */
    private static final class Rare {
        /**
         * The address the socket came from, when a PROXY protocol header named another client and
         * the client leg's remote address is not that very object (local channels, tests); else null.
         */
        volatile InetSocketAddress peerAddress;
        /** The deadline of a drain after a live route update, or null; event loop only. */
        Scheduler.Cancellable retireTimer;
        /** Bytes queued for this connection outside the budget's holders; null: its legs' outbound queues. */
        volatile LongSupplier bufferedBytes;
        /** When the inactivity warning started (ticker nanos), or -1; event loop only. */
        long warnedAtNanos = -1;
        /** When the first FIN came (ticker nanos), or -1; event loop only. */
        long halfClosedAtNanos = -1;
        /** When it was opened, nanoseconds since the epoch, if {@link #openedSkew} could not say; final once set. */
        volatile long openedAtEpochNanos;
        /** The route name when neither the route counters nor {@link ConnectionRegistry#PER_REQUEST} give it. */
        volatile String routeName;
        /** The timer's task on a scheduler without a queue of entries (tests), or null ({@link TimerEntry#timerTask()}). */
        Scheduler.Cancellable timerTask;
    }

    @Override
    Scheduler.Cancellable timerTask() {
        Rare r = rare;
        return r == null ? null : r.timerTask;
    }

    @Override
    void timerTask(Scheduler.Cancellable task) {
        if (task != null || rare != null) {
            rare().timerTask = task;
        }
    }

    /**
     * The channels of the connection: the client, then the backend of a TCP relay (null until
     * set). Two fields, not a list: an idle connection keeps no list object.
     */
    private volatile Channel clientLeg;
    private volatile Channel backendLeg;

    private final ConnectionRegistry registry;

    ManagedConnection(ConnectionRegistry registry, long id, int routePort, InetSocketAddress clientAddress,
                      Instant openedAt) {
        this.registry = registry;
        this.id = id;
        if (routePort < 0 || routePort > Character.MAX_VALUE) {
            throw new IllegalArgumentException("routePort: " + routePort + " (expected: 0..65535)");
        }
        this.routePort = (char) routePort;
        this.clientAddress = clientAddress;
        long openedAtEpochNanos = openedAt.getEpochSecond() * 1_000_000_000L + openedAt.getNano();
        this.openedNanos = now();
        this.lastActivityNanos = openedNanos;
        long skew = openedAtEpochNanos - openedNanos - registry.clockOffsetNanos;
        if (skew == (int) skew) {
            this.openedSkew = (int) skew;
        } else {
            this.openedSkew = 0;
            this.state = OPENED_IN_RARE;
            rare().openedAtEpochNanos = openedAtEpochNanos;
        }
    }

    /** Whether every bit of {@code bits} is set in the state. */
    private boolean is(int bits) {
        return (state & bits) == bits;
    }

    /** Sets {@code bits} in the state (compare-and-set: other threads set bits too); returns the state before. */
    private int set(int bits) {
        int s;
        do {
            s = state;
            if ((s & bits) == bits) {
                return s;
            }
        } while (!STATE.compareAndSet(this, s, s | bits));
        return s;
    }

    /** Sets {@code bits} only while none of {@code unless} is set, in one compare-and-set; true if it set them. */
    private boolean setUnless(int bits, int unless) {
        int s;
        do {
            s = state;
            if ((s & unless) != 0) {
                return false;
            }
        } while (!STATE.compareAndSet(this, s, s | bits));
        return true;
    }

    /**
     * Flag {@code flag} (0 .. {@link #HANDLER_FLAGS} - 1) of the connection's branch handler (the
     * TCP relay): bits of the record's state that only that handler gives a meaning to, so that an
     * idle relay needs no field of its own for them. Any thread.
     */
    public boolean handlerFlag(int flag) {
        return is(handlerBit(flag));
    }

    /** Sets {@linkplain #handlerFlag handler flag} {@code flag}; it stays set. Any thread. */
    public void setHandlerFlag(int flag) {
        set(handlerBit(flag));
    }

    private static int handlerBit(int flag) {
        if (flag < 0 || flag >= HANDLER_FLAGS) {
            throw new IllegalArgumentException("handler flag: " + flag + " (expected: 0.." + (HANDLER_FLAGS - 1) + ")");
        }
        return 1 << (HANDLER_SHIFT + flag);
    }

    /** The rarely needed state, made now if it is not yet (by any thread: one wins). */
    private Rare rare() {
        Rare r = rare;
        if (r == null) {
            Rare made = new Rare();
            r = RARE.compareAndExchange(this, (Rare) null, made) instanceof Rare won ? won : made;
        }
        return r;
    }

    /** The registry's ticker (not a field of its own: one reference fewer per connection). */
    private long now() {
        return registry.ticker.nanoTime();
    }

    /** The connection id. */
    public long id() {
        return id;
    }

    /** {@code "[conn 42] "}: the prefix of every log line about this connection. */
    public String log() {
        return "[conn " + id + "] "; // built per line: an idle connection keeps no string
    }

    /** The logical route port the client connected to. */
    public int routePort() {
        return routePort;
    }

    /**
     * The client's address: THE client everywhere (admission, route matching, limits,
     * forwarded headers, snapshots, events, logs). The peer's address, unless a trusted proxy's
     * PROXY protocol header named another ({@link #clientAddress(InetSocketAddress)}).
     */
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    /** The address the socket came from: the client, or the proxy in front of it. */
    public InetSocketAddress peerAddress() {
        if (!is(CLIENT_ADDRESS_SET)) {
            return clientAddress;
        }
        Rare r = rare;
        InetSocketAddress peer = r == null ? null : r.peerAddress;
        return peer != null ? peer : (InetSocketAddress) clientLeg.remoteAddress();
    }

    /**
     * Replaces the client address by the one a trusted proxy's PROXY protocol header carried.
     * Called at most once, by the accept path, before admission and before the connection is
     * routed; event loop only.
     *
     * @throws IllegalStateException if it was set before or the connection is routed
     */
    public void clientAddress(InetSocketAddress client) {
        java.util.Objects.requireNonNull(client, "client");
        if (!setUnless(CLIENT_ADDRESS_SET, CLIENT_ADDRESS_SET | KIND_MASK)) {
            throw new IllegalStateException(log() + "client address already set or connection routed");
        }
        InetSocketAddress peer = clientAddress;
        Channel leg = clientLeg;
        if (leg == null || leg.remoteAddress() != peer) {
            rare().peerAddress = peer; // else the peer is the client leg's remote address: no object for it
        }
        this.clientAddress = client;
    }

    /** The kind, or null while unrouted. */
    public ConnectionKind kind() {
        int k = (state & KIND_MASK) >>> KIND_SHIFT;
        return k == 0 ? null : KINDS[k - 1];
    }

    /** Records the routing outcome. */
    public void routed(ConnectionKind kind, String routeName, String sni) {
        // The name is kept as a bit when the route counters (set first by the registry) or the
        // per-request name give it: no field for it in the usual case.
        RouteCounters counters = routeCounters;
        int bits = (kind.ordinal() + 1) << KIND_SHIFT;
        if (routeName != null && counters != null && counters.name().equals(routeName)) {
            bits |= NAME_BY_COUNTERS;
        } else if (ConnectionRegistry.PER_REQUEST.equals(routeName)) {
            bits |= NAME_PER_REQUEST;
        }
        if ((bits & NAME_MASK) == 0 && routeName != null) {
            rare().routeName = routeName;
        } else if (rare != null) {
            rare.routeName = null;
        }
        int s;
        do {
            s = state;
        } while (!STATE.compareAndSet(this, s, (s & ~(KIND_MASK | NAME_MASK)) | bits));
        this.sni = SharedNames.of(sni);
    }

    /** The route name recorded when it was routed ({@link #routed}), or null. */
    private String routeName() {
        int s = state;
        if ((s & NAME_BY_COUNTERS) != 0) {
            return routeCounters.name();
        }
        if ((s & NAME_PER_REQUEST) != 0) {
            return ConnectionRegistry.PER_REQUEST;
        }
        Rare r = rare;
        return r == null ? null : r.routeName;
    }

    /**
     * The route object the connection was routed by: the connection's route, or for a connection
     * routed request by request the route of its latest request; null before a route took it.
     */
    public Route route() {
        return route;
    }

    /** Records the route object that routed the connection, or its latest HTTP request. Event loop only. */
    public void route(Route route) {
        this.route = route;
    }

    /**
     * Retires the connection after a live route update removed or changed its route: closes it
     * with {@code reason} now ({@code afterNanos <= 0}), or arms a drain deadline that closes it
     * then unless it ends first (cancelled when it closes). A drain already armed keeps its
     * deadline; a close at once overrides it. Nothing happens to a connection that is not routed
     * or already finished. Event loop only.
     */
    public void retire(CloseReason reason, long afterNanos) {
        if (is(FINISHED) || actions == null) {
            return;
        }
        if (afterNanos <= 0) {
            expire(reason);
            return;
        }
        Rare r = rare();
        if (r.retireTimer == null) {
            r.retireTimer = scheduler.schedule(() -> {
                r.retireTimer = null;
                if (!is(FINISHED)) {
                    expire(reason);
                }
            }, afterNanos);
        }
    }

    /**
     * Records that a later table has the connection's route with the same definition: replaces
     * the route object {@code routedBy} by {@code current}, unless another was recorded since (an
     * HTTP connection's next request). Any thread.
     */
    public void routeRenewed(Route routedBy, Route current) {
        ROUTE.compareAndSet(this, routedBy, current);
    }

    /** Notes that a live update asks for a drain (before asking its event loop). Any thread. */
    public void drainAsked() {
        set(DRAIN_ASKED);
    }

    /** Whether a live update ever asked for a drain of this connection. Any thread. */
    public boolean wasDrainAsked() {
        return is(DRAIN_ASKED);
    }

    /**
     * Cancels an armed drain deadline: a later update restored the route. Returns whether one was
     * armed. Event loop only.
     */
    public boolean cancelDrain() {
        Rare r = rare;
        if (r == null || r.retireTimer == null) {
            return false;
        }
        r.retireTimer.cancel();
        r.retireTimer = null;
        return true;
    }

    /** Whether a drain deadline from a live route update is armed. Event loop only. */
    public boolean draining() {
        Rare r = rare;
        return r != null && r.retireTimer != null;
    }

    /** Records that the connection was upgraded to a WebSocket (terminated connections only). */
    public void markWebSocket() {
        set(WEBSOCKET);
    }

    /** Whether the connection was upgraded to a WebSocket. */
    public boolean isWebSocket() {
        return is(WEBSOCKET);
    }

    /** Records the SNI name read from the ClientHello, before or without a route. */
    public void sni(String sni) {
        this.sni = SharedNames.of(sni);
    }

    /** Records the backend address chosen. */
    public void backendAddress(InetSocketAddress address) {
        this.backendAddress = address;
    }

    /**
     * Supplies the number of bytes held in the proxy's buffers for this connection that no
     * {@link BufferBudget.Holder} counts (outbound queues); {@code info().bufferedBytes()} adds the holders'.
     * Without one (null, the default), those are the bytes queued on the outbound buffers of its
     * {@linkplain #legs() legs}, which is what the TCP relay and the HTTP branch hold.
     */
    public void bufferedBytes(LongSupplier supplier) {
        if (supplier != null || rare != null) {
            rare().bufferedBytes = supplier;
        }
    }

    /** The bytes queued on the outbound buffers of the connection's legs, not yet written to their sockets. */
    private long queuedOnLegs() {
        return queuedOn(clientLeg) + queuedOn(backendLeg);
    }

    private static long queuedOn(Channel leg) {
        io.netty.channel.ChannelOutboundBuffer out = leg == null ? null : leg.unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }

    /** A {@link BufferBudget.Holder} of this connection changed its level by {@code delta}. Event loop only. */
    void held(long delta) {
        heldBytes += delta;
    }

    /** Counts bytes read from the client. */
    public void readFromClient(int bytes) {
        bytesFromClient += bytes;
        lastActivityNanos = now();
    }

    /** Counts bytes read from the backend. */
    public void readFromBackend(int bytes) {
        bytesFromBackend += bytes;
        lastActivityNanos = now();
    }

    /** Counts bytes written to the client (as they go to the socket). Event loop only. */
    public void wroteToClient(int bytes) {
        bytesToClient += bytes;
    }

    /** Bytes written to the client so far. */
    public long bytesToClient() {
        return bytesToClient;
    }

    /** The metrics and events of the connection's proxy. */
    public Telemetry telemetry() {
        return registry.telemetry();
    }

    RouteCounters routeCounters() {
        return routeCounters;
    }

    void routeCounters(RouteCounters counters) {
        this.routeCounters = counters;
    }

    boolean webSocketCounted() {
        return is(WEBSOCKET_COUNTED);
    }

    void webSocketCounted(boolean counted) {
        if (counted) {
            set(WEBSOCKET_COUNTED);
        } else {
            int s;
            do {
                s = state;
            } while ((s & WEBSOCKET_COUNTED) != 0 && !STATE.compareAndSet(this, s, s & ~WEBSOCKET_COUNTED));
        }
    }

    /** Bytes read from the client so far. */
    public long bytesFromClient() {
        return bytesFromClient;
    }

    /** Bytes read from the backend so far. */
    public long bytesFromBackend() {
        return bytesFromBackend;
    }

    /**
     * Records why the connection closes. The first reason wins; later ones are ignored.
     *
     * @return true if this call set the reason
     */
    public boolean closeReason(CloseReason reason) {
        int bits = reason.ordinal() + 1;
        int s;
        do {
            s = state;
            if ((s & REASON_MASK) != 0) {
                return false;
            }
        } while (!STATE.compareAndSet(this, s, s | bits));
        return true;
    }

    /** The recorded reason, or null. */
    public CloseReason closeReason() {
        int r = state & REASON_MASK;
        return r == 0 ? null : REASONS[r - 1];
    }

    /** Records a FIN from the client; the first FIN starts the half-close grace. */
    public void clientInputClosed() {
        if ((set(CLIENT_INPUT_CLOSED) & CLIENT_INPUT_CLOSED) == 0) {
            halfClosed(CloseReason.Side.CLIENT);
        }
    }

    /** Records a FIN from the backend; the first FIN starts the half-close grace. */
    public void backendInputClosed() {
        if ((set(BACKEND_INPUT_CLOSED) & BACKEND_INPUT_CLOSED) == 0) {
            halfClosed(CloseReason.Side.BACKEND);
        }
    }

    private void halfClosed(CloseReason.Side side) {
        if (!setUnless(side == CloseReason.Side.BACKEND ? FIRST_FIN_BACKEND : FIRST_FIN_CLIENT,
                FIRST_FIN_CLIENT | FIRST_FIN_BACKEND)) {
            return;
        }
        long now = now();
        rare().halfClosedAtNanos = now;
        registry.halfClosed(this, side);
        arm(now);
    }

    /** When the first FIN came (ticker nanos), or -1. */
    private long halfClosedAtNanos() {
        Rare r = rare;
        return r == null ? -1 : r.halfClosedAtNanos;
    }

    /** When the inactivity warning started (ticker nanos), or -1 if none is in force. */
    private long warnedAtNanos() {
        Rare r = rare;
        return r == null ? -1 : r.warnedAtNanos;
    }

    /** The effective policy, or null before the connection is routed. */
    public EffectivePolicy policy() {
        return policy;
    }

    /**
     * Starts the connection's timers under {@code policy}. Called once, when its route is
     * chosen, on the connection's event loop.
     */
    public void activate(EffectivePolicy policy, Scheduler scheduler, ConnectionActions actions) {
        this.policy = policy;
        this.scheduler = scheduler;
        this.actions = actions;
        arm(now());
    }

    /** The earliest instant (ticker nanos) at which a timer may expire; MAX_VALUE if none can. */
    private long nextDeadline() {
        EffectivePolicy p = policy;
        long halfClosedAtNanos = halfClosedAtNanos();
        long warnedAtNanos = warnedAtNanos();
        long next = Long.MAX_VALUE;
        if (!p.maxLifetime().isZero()) {
            next = openedNanos + p.maxLifetime().toNanos();
        }
        if (halfClosedAtNanos >= 0 && !p.halfCloseGrace().isZero()) {
            next = Math.min(next, Math.max(lastActivityNanos, halfClosedAtNanos) + p.halfCloseGrace().toNanos());
        }
        if (!p.inactivityTimeout().isZero()) {
            next = Math.min(next, warnedAtNanos >= 0 ? warnedAtNanos + p.inactivityGrace().toNanos()
                    : lastActivityNanos + p.inactivityTimeout().toNanos());
        }
        return next;
    }

    private void arm(long now) {
        // A recorded reason does not stop the timers: a close that waits on a flush to a peer
        // that no longer reads must still end when a deadline passes.
        if (policy == null || is(FINISHED)) {
            return;
        }
        long next = nextDeadline();
        if (next == Long.MAX_VALUE || armedDeadline() <= next) {
            return; // nothing can expire, or an earlier check will re-arm
        }
        scheduler.arm(this, next, Math.max(0, next - now));
    }

    /** The timer check, as the scheduler runs it: see {@link #check()}. Event loop only. */
    @Override
    public void run() {
        check();
    }

    /**
     * A leg's close future completed (the registry adds this record as the listener of each leg's
     * close future, {@link ConnectionRegistry#watchLeg}): when no leg is left open, the connection is
     * closed in the registry.
     */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (allLegsClosed()) {
            registry.closed(this);
        }
    }

    /** The timer check: expire what is due, else re-arm for the next deadline. */
    void check() {
        if (is(FINISHED)) {
            return;
        }
        EffectivePolicy p = policy;
        long now = now();
        long last = lastActivityNanos;
        long halfClosedAtNanos = halfClosedAtNanos();
        if (!p.maxLifetime().isZero() && now - openedNanos >= p.maxLifetime().toNanos()) {
            expire(CloseReason.MAX_LIFETIME);
            return;
        }
        if (halfClosedAtNanos >= 0 && !p.halfCloseGrace().isZero()
                && now - Math.max(last, halfClosedAtNanos) >= p.halfCloseGrace().toNanos()) {
            expire(CloseReason.HALF_CLOSE_GRACE_EXPIRED);
            return;
        }
        if (!p.inactivityTimeout().isZero()) {
            long warnedAtNanos = warnedAtNanos();
            if (warnedAtNanos >= 0 && last > warnedAtNanos) {
                warnedAtNanos = -1; // a byte moved during the warning: the close is cancelled
                rare.warnedAtNanos = -1;
            }
            if (warnedAtNanos >= 0) {
                if (now - warnedAtNanos >= p.inactivityGrace().toNanos()) {
                    expire(CloseReason.INACTIVITY);
                    return;
                }
            } else if (now - last >= p.inactivityTimeout().toNanos()) {
                if (p.treatment() == KeepAliveTreatment.EXTENDED && !p.inactivityGrace().isZero()) {
                    rare().warnedAtNanos = now;
                    registry.inactivityWarning(this);
                } else {
                    expire(CloseReason.INACTIVITY);
                    return;
                }
            }
        }
        arm(now);
    }

    /** Records {@code reason} unless one was recorded first, and closes both legs at once. */
    private void expire(CloseReason reason) {
        closeReason(reason);
        actions.close(closeReason());
    }

    /** Whether an inactivity warning is in force (EXTENDED, waiting out the grace). */
    public boolean warned() {
        return warnedAtNanos() >= 0;
    }

    /** Whether the client sent a FIN. */
    public boolean isClientInputClosed() {
        return is(CLIENT_INPUT_CLOSED);
    }

    /** Whether the backend sent a FIN. */
    public boolean isBackendInputClosed() {
        return is(BACKEND_INPUT_CLOSED);
    }

    /** Whether both sides sent a FIN: nothing more can flow. */
    public boolean bothInputsClosed() {
        return is(CLIENT_INPUT_CLOSED | BACKEND_INPUT_CLOSED);
    }

    /** The normal-close reason implied by who sent the first FIN. */
    public CloseReason orderlyCloseReason() {
        return is(FIRST_FIN_BACKEND) ? CloseReason.BACKEND_CLOSED : CloseReason.CLIENT_CLOSED;
    }

    /**
     * The connection's channels, client leg first, then the backend leg of a TCP relay once its
     * connect starts: what close accounting waits on ({@link ConnectionRegistry#watchLeg}).
     */
    public List<Channel> legs() {
        Channel client = clientLeg;
        Channel backend = backendLeg;
        return client == null ? List.of() : backend == null ? List.of(client) : List.of(client, backend);
    }

    /** The client's channel, or null before the accept stage {@linkplain ConnectionRegistry#watchLeg watches} it. */
    public Channel clientLeg() {
        return clientLeg;
    }

    /** The backend channel of a TCP relay, or null before its connect starts (and for other connections). */
    public Channel backendLeg() {
        return backendLeg;
    }

    /**
     * Adds a leg: the client's, then the backend's. Event loop only.
     *
     * @throws IllegalStateException if the connection has both legs already
     */
    void addLeg(Channel leg) {
        java.util.Objects.requireNonNull(leg, "leg");
        if (clientLeg == null) {
            clientLeg = leg;
        } else if (backendLeg == null) {
            backendLeg = leg;
        } else {
            throw new IllegalStateException(log() + "a connection has two legs at most");
        }
    }

    /** Whether every leg is closed: the connection is over. */
    boolean allLegsClosed() {
        Channel client = clientLeg;
        Channel backend = backendLeg;
        return (client == null || !client.isOpen()) && (backend == null || !backend.isOpen());
    }

    /** Whether the connection is finished: its close is (being) counted. Any thread. */
    boolean finished() {
        return is(FINISHED);
    }

    /** Marks the connection finished and cancels its timer; returns true the first time only. */
    boolean finish() {
        if ((set(FINISHED) & FINISHED) != 0) {
            return false;
        }
        if (scheduler != null) {
            scheduler.disarm(this);
        }
        Rare r = rare;
        if (r != null && r.retireTimer != null) {
            r.retireTimer.cancel();
            r.retireTimer = null;
        }
        closeReason(orderlyCloseReason()); // kept only if none was recorded
        return true;
    }

    /** A snapshot. */
    public ConnectionInfo info() {
        Instant openedAt = Instant.ofEpochSecond(0, is(OPENED_IN_RARE) ? rare.openedAtEpochNanos
                : openedNanos + registry.clockOffsetNanos + openedSkew);
        long elapsed = lastActivityNanos - openedNanos;
        Rare r = rare;
        LongSupplier bufferedBytes = r == null ? null : r.bufferedBytes;
        return new ConnectionSnapshot(id, routePort, clientAddress, kind(), routeName(), sni, backendAddress,
                bytesFromClient, bytesFromBackend,
                (bufferedBytes == null ? queuedOnLegs() : bufferedBytes.getAsLong()) + heldBytes, openedAt,
                openedAt.plusNanos(elapsed), policy, isWebSocket(), closeReason());
    }

    @Override
    public String toString() {
        return info().toString();
    }
}
