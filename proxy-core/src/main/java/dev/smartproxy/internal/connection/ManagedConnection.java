package dev.smartproxy.internal.connection;

import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.route.Route;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
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
 * and builds its log prefix only when a line is logged.
 *
 * <p>Over 600 lines on purpose, and one job, the record of one connection: everything a
 * connection carries for its whole life (its timer and deadlines, legs, counters, its route and
 * retirement, its close) is in this one object for the memory reason above: each helper object
 * split out of it would be one more object per open connection, and an idle passthrough
 * connection's whole budget is about 2.5 KiB. The rules that need no per-connection state live
 * apart ({@link EffectivePolicy}, {@link CloseReasons}, {@link TimerQueue}).
 */
public final class ManagedConnection extends TimerEntry implements ChannelFutureListener {
    private final long id;
    private final int routePort;
    /** The address the socket came from: the client, or a proxy in front of it. */
    private final InetSocketAddress peerAddress;
    /** The client: the peer, or the address a trusted proxy's PROXY protocol header carried. */
    private volatile InetSocketAddress clientAddress;
    private boolean clientAddressSet;
    /** When it was opened: nanoseconds since the epoch (an {@link Instant} for snapshots). */
    private final long openedAtEpochNanos;
    private final long openedNanos;

    private volatile ConnectionKind kind;
    private volatile String routeName;
    /**
     * The route object the connection was routed by (an HTTP connection: its latest request's),
     * or null: what a live route update compares with its new table to find removed or changed routes.
     */
    private volatile Route route;
    private static final java.util.concurrent.atomic.AtomicReferenceFieldUpdater<ManagedConnection, Route> ROUTE =
            java.util.concurrent.atomic.AtomicReferenceFieldUpdater.newUpdater(ManagedConnection.class, Route.class,
                    "route");
    /** The deadline of a drain after a live route update, or null; event loop only. */
    private Scheduler.Cancellable retireTimer;
    /** Set (for good) once a live update asked for a drain: a later update may have to cancel it. */
    private volatile boolean drainAsked;
    private volatile String sni;
    private volatile InetSocketAddress backendAddress;
    private volatile long bytesFromClient;
    private volatile long bytesFromBackend;
    /** Bytes written to the client socket (TLS records included); see {@link #wroteToClient}. */
    private volatile long bytesToClient;
    /** The metric counters of the connection's route, looked up once when it is routed. */
    private volatile dev.smartproxy.internal.metrics.RouteCounters routeCounters;
    /** Counted as an upgraded WebSocket in the metrics (so its close is counted too). */
    private volatile boolean webSocketCounted;
    private volatile long lastActivityNanos;
    private volatile CloseReason closeReason;
    private static final java.util.concurrent.atomic.AtomicReferenceFieldUpdater<ManagedConnection, CloseReason>
            CLOSE_REASON = java.util.concurrent.atomic.AtomicReferenceFieldUpdater.newUpdater(
                    ManagedConnection.class, CloseReason.class, "closeReason");
    private volatile boolean webSocket;
    /** Bytes queued for this connection outside the budget's holders; null: its legs' outbound queues. */
    private volatile LongSupplier bufferedBytes;
    /** Bytes counted in the proxy's {@link BufferBudget} for this connection; written by its event loop only. */
    private volatile long heldBytes;

    private volatile EffectivePolicy policy;
    private Scheduler scheduler;
    private ConnectionActions actions;
    private long warnedAtNanos = -1;
    private long halfClosedAtNanos = -1;

    private boolean clientInputClosed;
    private boolean backendInputClosed;
    private CloseReason.Side firstFin;
    /** Volatile: the metrics sampler skips finished connections (their bytes are in the closed totals). */
    private volatile boolean finished;

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
        this.routePort = routePort;
        this.peerAddress = clientAddress;
        this.clientAddress = clientAddress;
        this.openedAtEpochNanos = openedAt.getEpochSecond() * 1_000_000_000L + openedAt.getNano();
        this.openedNanos = now();
        this.lastActivityNanos = openedNanos;
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
        return peerAddress;
    }

    /**
     * Replaces the client address by the one a trusted proxy's PROXY protocol header carried.
     * Called at most once, by the accept path, before admission and before the connection is
     * routed; event loop only.
     *
     * @throws IllegalStateException if it was set before or the connection is routed
     */
    public void clientAddress(InetSocketAddress client) {
        if (clientAddressSet || kind != null) {
            throw new IllegalStateException(log() + "client address already set or connection routed");
        }
        clientAddressSet = true;
        this.clientAddress = java.util.Objects.requireNonNull(client, "client");
    }

    /** The kind, or null while unrouted. */
    public ConnectionKind kind() {
        return kind;
    }

    /** Records the routing outcome. */
    public void routed(ConnectionKind kind, String routeName, String sni) {
        this.kind = kind;
        this.routeName = routeName;
        this.sni = sharedName(sni);
    }

    /** The most distinct SNI names kept for sharing; past it the table starts over (random names from hostile clients). */
    static final int SHARED_NAMES_MAX = 4096;
    private static final java.util.concurrent.ConcurrentHashMap<String, String> SHARED_NAMES =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The one instance of an SNI name equal to {@code name} (null stays null): each connection
     * parsed its own copy from its ClientHello, and the many connections to one name keep one.
     */
    static String sharedName(String name) {
        if (name == null) {
            return null;
        }
        String known = SHARED_NAMES.get(name);
        if (known != null) {
            return known;
        }
        if (SHARED_NAMES.size() >= SHARED_NAMES_MAX) {
            SHARED_NAMES.clear();
        }
        known = SHARED_NAMES.putIfAbsent(name, name);
        return known != null ? known : name;
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
        if (finished || actions == null) {
            return;
        }
        if (afterNanos <= 0) {
            expire(reason);
            return;
        }
        if (retireTimer == null) {
            retireTimer = scheduler.schedule(() -> {
                retireTimer = null;
                if (!finished) {
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
        drainAsked = true;
    }

    /** Whether a live update ever asked for a drain of this connection. Any thread. */
    public boolean wasDrainAsked() {
        return drainAsked;
    }

    /**
     * Cancels an armed drain deadline: a later update restored the route. Returns whether one was
     * armed. Event loop only.
     */
    public boolean cancelDrain() {
        if (retireTimer == null) {
            return false;
        }
        retireTimer.cancel();
        retireTimer = null;
        return true;
    }

    /** Whether a drain deadline from a live route update is armed. Event loop only. */
    public boolean draining() {
        return retireTimer != null;
    }

    /** Records that the connection was upgraded to a WebSocket (terminated connections only). */
    public void markWebSocket() {
        this.webSocket = true;
    }

    /** Whether the connection was upgraded to a WebSocket. */
    public boolean isWebSocket() {
        return webSocket;
    }

    /** Records the SNI name read from the ClientHello, before or without a route. */
    public void sni(String sni) {
        this.sni = sharedName(sni);
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
        this.bufferedBytes = supplier;
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

    dev.smartproxy.internal.metrics.RouteCounters routeCounters() {
        return routeCounters;
    }

    void routeCounters(dev.smartproxy.internal.metrics.RouteCounters counters) {
        this.routeCounters = counters;
    }

    boolean webSocketCounted() {
        return webSocketCounted;
    }

    void webSocketCounted(boolean counted) {
        this.webSocketCounted = counted;
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
        return CLOSE_REASON.compareAndSet(this, null, reason);
    }

    /** The recorded reason, or null. */
    public CloseReason closeReason() {
        return closeReason;
    }

    /** Records a FIN from the client; the first FIN starts the half-close grace. */
    public void clientInputClosed() {
        if (!clientInputClosed) {
            clientInputClosed = true;
            halfClosed(CloseReason.Side.CLIENT);
        }
    }

    /** Records a FIN from the backend; the first FIN starts the half-close grace. */
    public void backendInputClosed() {
        if (!backendInputClosed) {
            backendInputClosed = true;
            halfClosed(CloseReason.Side.BACKEND);
        }
    }

    private void halfClosed(CloseReason.Side side) {
        if (firstFin != null) {
            return;
        }
        firstFin = side;
        halfClosedAtNanos = now();
        registry.halfClosed(this, side);
        arm(halfClosedAtNanos);
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
        if (policy == null || finished) {
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
        if (finished) {
            return;
        }
        EffectivePolicy p = policy;
        long now = now();
        long last = lastActivityNanos;
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
            if (warnedAtNanos >= 0 && last > warnedAtNanos) {
                warnedAtNanos = -1; // a byte moved during the warning: the close is cancelled
            }
            if (warnedAtNanos >= 0) {
                if (now - warnedAtNanos >= p.inactivityGrace().toNanos()) {
                    expire(CloseReason.INACTIVITY);
                    return;
                }
            } else if (now - last >= p.inactivityTimeout().toNanos()) {
                if (p.treatment() == KeepAliveTreatment.EXTENDED && !p.inactivityGrace().isZero()) {
                    warnedAtNanos = now;
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
        actions.close(closeReason);
    }

    /** Whether an inactivity warning is in force (EXTENDED, waiting out the grace). */
    public boolean warned() {
        return warnedAtNanos >= 0;
    }

    /** Whether the client sent a FIN. */
    public boolean isClientInputClosed() {
        return clientInputClosed;
    }

    /** Whether the backend sent a FIN. */
    public boolean isBackendInputClosed() {
        return backendInputClosed;
    }

    /** Whether both sides sent a FIN: nothing more can flow. */
    public boolean bothInputsClosed() {
        return clientInputClosed && backendInputClosed;
    }

    /** The normal-close reason implied by who sent the first FIN. */
    public CloseReason orderlyCloseReason() {
        return firstFin == CloseReason.Side.BACKEND ? CloseReason.BACKEND_CLOSED : CloseReason.CLIENT_CLOSED;
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
        return finished;
    }

    /** Marks the connection finished and cancels its timer; returns true the first time only. */
    boolean finish() {
        if (finished) {
            return false;
        }
        finished = true;
        if (scheduler != null) {
            scheduler.disarm(this);
        }
        if (retireTimer != null) {
            retireTimer.cancel();
            retireTimer = null;
        }
        if (closeReason == null) {
            closeReason = orderlyCloseReason();
        }
        return true;
    }

    /** A snapshot. */
    public ConnectionInfo info() {
        Instant openedAt = Instant.ofEpochSecond(0, openedAtEpochNanos);
        long elapsed = lastActivityNanos - openedNanos;
        return new ConnectionSnapshot(id, routePort, clientAddress, kind, routeName, sni, backendAddress,
                bytesFromClient, bytesFromBackend,
                (bufferedBytes == null ? queuedOnLegs() : bufferedBytes.getAsLong()) + heldBytes, openedAt,
                openedAt.plusNanos(elapsed), policy, webSocket, closeReason);
    }

    @Override
    public String toString() {
        return info().toString();
    }
}
