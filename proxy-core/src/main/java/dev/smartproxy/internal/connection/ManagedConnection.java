package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * The proxy's record of one client connection: identity, kind, route, traffic, timestamps,
 * half-close state and close reason.
 *
 * <p>Written only by the connection's event loop; fields that snapshots read from other threads
 * are volatile. Not a ChannelHandler: the handlers report to it.
 */
public final class ManagedConnection {
    private final long id;
    private final int routePort;
    private final InetSocketAddress clientAddress;
    private final Instant openedAt;
    private final long openedNanos;
    private final Ticker ticker;
    private final String logPrefix;

    private volatile ConnectionKind kind;
    private volatile String routeName;
    private volatile String sni;
    private volatile InetSocketAddress backendAddress;
    private volatile long bytesFromClient;
    private volatile long bytesFromBackend;
    private volatile long lastActivityNanos;
    private volatile CloseReason closeReason;
    private volatile LongSupplier bufferedBytes = () -> 0L;

    private boolean clientInputClosed;
    private boolean backendInputClosed;
    private CloseReason.Side firstFin;
    private boolean finished;

    ManagedConnection(long id, int routePort, InetSocketAddress clientAddress, Instant openedAt, Ticker ticker) {
        this.id = id;
        this.routePort = routePort;
        this.clientAddress = clientAddress;
        this.openedAt = openedAt;
        this.ticker = ticker;
        this.openedNanos = ticker.nanoTime();
        this.lastActivityNanos = openedNanos;
        this.logPrefix = "[conn " + id + "] ";
    }

    /** The connection id. */
    public long id() {
        return id;
    }

    /** {@code "[conn 42] "}: the prefix of every log line about this connection. */
    public String log() {
        return logPrefix;
    }

    /** The logical route port the client connected to. */
    public int routePort() {
        return routePort;
    }

    /** The client's address. */
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    /** The kind, or null while unrouted. */
    public ConnectionKind kind() {
        return kind;
    }

    /** Records the routing outcome. */
    public void routed(ConnectionKind kind, String routeName, String sni) {
        this.kind = kind;
        this.routeName = routeName;
        this.sni = sni;
    }

    /** Records the SNI name read from the ClientHello, before or without a route. */
    public void sni(String sni) {
        this.sni = sni;
    }

    /** Records the backend address chosen. */
    public void backendAddress(InetSocketAddress address) {
        this.backendAddress = address;
    }

    /** Supplies the number of bytes held in the proxy's buffers for this connection. */
    public void bufferedBytes(LongSupplier supplier) {
        this.bufferedBytes = supplier;
    }

    /** Counts bytes read from the client. */
    public void readFromClient(int bytes) {
        bytesFromClient += bytes;
        lastActivityNanos = ticker.nanoTime();
    }

    /** Counts bytes read from the backend. */
    public void readFromBackend(int bytes) {
        bytesFromBackend += bytes;
        lastActivityNanos = ticker.nanoTime();
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
        if (closeReason == null) {
            closeReason = reason;
            return true;
        }
        return false;
    }

    /** The recorded reason, or null. */
    public CloseReason closeReason() {
        return closeReason;
    }

    /** Records a FIN from the client. */
    public void clientInputClosed() {
        if (!clientInputClosed) {
            clientInputClosed = true;
            if (firstFin == null) {
                firstFin = CloseReason.Side.CLIENT;
            }
        }
    }

    /** Records a FIN from the backend. */
    public void backendInputClosed() {
        if (!backendInputClosed) {
            backendInputClosed = true;
            if (firstFin == null) {
                firstFin = CloseReason.Side.BACKEND;
            }
        }
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

    /** Marks the connection finished; returns true the first time only. */
    boolean finish() {
        if (finished) {
            return false;
        }
        finished = true;
        if (closeReason == null) {
            closeReason = orderlyCloseReason();
        }
        return true;
    }

    /** A snapshot. */
    public ConnectionInfo info() {
        long elapsed = lastActivityNanos - openedNanos;
        return new ConnectionInfo(id, routePort, clientAddress, kind, routeName, sni, backendAddress,
                bytesFromClient, bytesFromBackend, bufferedBytes.getAsLong(), openedAt,
                openedAt.plusNanos(elapsed), closeReason);
    }

    @Override
    public String toString() {
        return info().toString();
    }
}
