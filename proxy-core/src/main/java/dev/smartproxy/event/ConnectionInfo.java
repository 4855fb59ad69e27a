package dev.smartproxy.event;

import dev.smartproxy.config.EffectivePolicy;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of one connection: immutable, taken at one moment.
 *
 * <p>Until a route is chosen, {@link #kind()}, {@link #routeName()}, {@link #policy()} and
 * {@link #backendAddress()} are empty. {@link #closeReason()} is set once the connection is
 * closed (in {@link ProxyEventListener#onClosed}).
 */
public final class ConnectionInfo {
    private final long id;
    private final int routePort;
    private final InetSocketAddress clientAddress;
    private final ConnectionKind kind;
    private final String routeName;
    private final String sni;
    private final InetSocketAddress backendAddress;
    private final long bytesFromClient;
    private final long bytesFromBackend;
    private final long bufferedBytes;
    private final Instant openedAt;
    private final Instant lastActivityAt;
    private final EffectivePolicy policy;
    private final boolean webSocket;
    private final CloseReason closeReason;

    /** Creates a snapshot; called by the proxy. */
    public ConnectionInfo(long id, int routePort, InetSocketAddress clientAddress, ConnectionKind kind,
                          String routeName, String sni, InetSocketAddress backendAddress, long bytesFromClient,
                          long bytesFromBackend, long bufferedBytes, Instant openedAt, Instant lastActivityAt,
                          EffectivePolicy policy, boolean webSocket, CloseReason closeReason) {
        this.id = id;
        this.routePort = routePort;
        this.clientAddress = clientAddress;
        this.kind = kind;
        this.routeName = routeName;
        this.sni = sni;
        this.backendAddress = backendAddress;
        this.bytesFromClient = bytesFromClient;
        this.bytesFromBackend = bytesFromBackend;
        this.bufferedBytes = bufferedBytes;
        this.openedAt = Objects.requireNonNull(openedAt, "openedAt");
        this.lastActivityAt = Objects.requireNonNull(lastActivityAt, "lastActivityAt");
        this.policy = policy;
        this.webSocket = webSocket;
        this.closeReason = closeReason;
    }

    /** The connection id, unique within a proxy; it prefixes every log line about the connection. */
    public long id() {
        return id;
    }

    /** The route port the client connected to (the logical port, even if the listener was bound elsewhere). */
    public int routePort() {
        return routePort;
    }

    /** The client's address and port. */
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    /** The kind, once the connection is routed. */
    public Optional<ConnectionKind> kind() {
        return Optional.ofNullable(kind);
    }

    /** The name of the route that took the connection, once routed. */
    public Optional<String> routeName() {
        return Optional.ofNullable(routeName);
    }

    /** The SNI name of the ClientHello, if one was read and carried a name. */
    public Optional<String> sni() {
        return Optional.ofNullable(sni);
    }

    /** The backend address, once a target was chosen. */
    public Optional<InetSocketAddress> backendAddress() {
        return Optional.ofNullable(backendAddress);
    }

    /** Bytes read from the client (ClientHello included). */
    public long bytesFromClient() {
        return bytesFromClient;
    }

    /** Bytes read from the backend. */
    public long bytesFromBackend() {
        return bytesFromBackend;
    }

    /**
     * Bytes the proxy holds for this connection right now: read but not yet written to the
     * other side's socket. Bounded by backpressure.
     */
    public long bufferedBytes() {
        return bufferedBytes;
    }

    /** When the connection was accepted. */
    public Instant openedAt() {
        return openedAt;
    }

    /** When a byte last moved in either direction (or the accept time). */
    public Instant lastActivityAt() {
        return lastActivityAt;
    }

    /** The timeouts this connection lives by, once routed (see {@link EffectivePolicy#of}). */
    public Optional<EffectivePolicy> policy() {
        return Optional.ofNullable(policy);
    }

    /**
     * Whether the proxy saw this connection upgrade to a WebSocket. Only terminated connections
     * can say so: a WebSocket inside a passthrough connection is invisible to the proxy.
     */
    public boolean webSocket() {
        return webSocket;
    }

    /** Why the connection closed; empty while it is open. */
    public Optional<CloseReason> closeReason() {
        return Optional.ofNullable(closeReason);
    }

    @Override
    public String toString() {
        return "Connection#" + id + "[" + (kind == null ? "unrouted" : kind) + " port=" + routePort
                + " client=" + clientAddress + (routeName == null ? "" : " route=" + routeName)
                + (sni == null ? "" : " sni=" + sni) + (backendAddress == null ? "" : " backend=" + backendAddress)
                + (webSocket ? " websocket" : "") + " in=" + bytesFromClient + " out=" + bytesFromBackend
                + (closeReason == null ? "" : " closed=" + closeReason) + "]";
    }
}
