package dev.smartproxy.event;

import dev.smartproxy.config.EffectivePolicy;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Optional;

/**
 * A snapshot of one connection: immutable, taken at one moment, made by the proxy (read-only
 * for users: there is nothing to construct; the proxy's implementation is internal).
 *
 * <p>Until a route is chosen, {@link #kind()}, {@link #routeName()}, {@link #policy()} and
 * {@link #backendAddress()} are empty. {@link #closeReason()} is set once the connection is
 * closed (in {@link ProxyEventListener#onClosed}). {@code toString()} gives a one-line summary.
 */
public interface ConnectionInfo {
    /** The connection id, unique within a proxy; it prefixes every log line about the connection. */
    long id();

    /** The route port the client connected to (the logical port, even if the listener was bound elsewhere). */
    int routePort();

    /** The client's address and port. */
    InetSocketAddress clientAddress();

    /** The kind, once the connection is routed. */
    Optional<ConnectionKind> kind();

    /** The name of the route that took the connection, once routed. */
    Optional<String> routeName();

    /** The SNI name of the ClientHello, if one was read and carried a name. */
    Optional<String> sni();

    /** The backend address, once a target was chosen. */
    Optional<InetSocketAddress> backendAddress();

    /** Bytes read from the client (ClientHello included). */
    long bytesFromClient();

    /** Bytes read from the backend. */
    long bytesFromBackend();

    /**
     * Bytes the proxy holds for this connection right now: read but not yet written to the
     * other side's socket. Bounded by backpressure.
     */
    long bufferedBytes();

    /** When the connection was accepted. */
    Instant openedAt();

    /** When a byte last moved in either direction (or the accept time). */
    Instant lastActivityAt();

    /**
     * The timeouts this connection lives by, once routed: the proxy's policy, the overrides for
     * its kind, then its route's (route &gt; kind &gt; proxy); see {@link EffectivePolicy}.
     */
    Optional<EffectivePolicy> policy();

    /**
     * Whether the proxy saw this connection upgrade to a WebSocket, which also says whether the
     * proxy's WebSocket heartbeat can touch it: the heartbeat runs exactly where the proxy reads
     * frames, that is on connections for which this is true. They are {@code TERMINATED}
     * connections (TLS ended at the proxy) and cleartext HTTP connections upgraded through the
     * proxy (kind {@code PLAIN}); see {@link ConnectionKind}. A WebSocket inside a passthrough
     * connection, or inside a raw TCP relay, is invisible to the proxy: false, never pinged.
     */
    boolean webSocket();

    /** Why the connection closed; empty while it is open. */
    Optional<CloseReason> closeReason();
}
