package dev.smartproxy.event;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Receives connection events. Every method has a no-op default; implement what you need.
 *
 * <p>Order per connection: {@link #onAccepted}; then {@link #onClassified} if a route took it;
 * then, any number of times and in any order, {@link #onInactivityWarning} (under
 * {@code EXTENDED}, each time the connection idles out and then only if it was not closed) and
 * at most one {@link #onHalfClosed}; then exactly one {@link #onClosed}, always last. Between
 * {@link #onClassified} and {@link #onClosed} come the events of what the connection carries:
 * {@link #onTlsHandshake} (client leg, then backend legs), {@link #onBackendConnected} for each
 * backend connection, {@link #onHttpExchange} once per exchange, {@link #onWebSocketUpgraded} and
 * {@link #onWebSocketClosed}. Methods run on the connection's I/O thread: return
 * quickly and never block; hand slow work to another executor. An exception thrown by a
 * listener is logged and does not affect the connection.
 *
 * <p>An event is built only for the listeners that override its method (found once per listener
 * class when the listener is added): a listener of {@link #onHttpExchange} alone costs the
 * connection events nothing. A listener that wants every event overrides every method.
 * <pre>{@code
 * SmartProxy.builder().listener(new ProxyEventListener() {
 *     public void onClosed(ConnectionInfo c) {
 *         log.info("{} closed: {}", c.id(), c.closeReason().orElseThrow());
 *     }
 * });
 * }</pre>
 */
public interface ProxyEventListener {
    /** A client connection was accepted; nothing is known yet but its addresses. */
    default void onAccepted(ConnectionInfo connection) {
    }

    /**
     * A route took the connection: its kind, route, backend address and effective policy
     * ({@link ConnectionInfo#policy()}) are set and its timers run.
     */
    default void onClassified(ConnectionInfo connection) {
    }

    /**
     * Under {@code EXTENDED}: the connection has been idle for its (multiplied) inactivity
     * timeout. It will be closed with reason {@code INACTIVITY} after the grace
     * ({@code extendedKeepAliveGrace}) unless a byte moves in either direction first.
     */
    default void onInactivityWarning(ConnectionInfo connection) {
    }

    /**
     * One side sent a FIN ({@code side} is {@code CLIENT} or {@code BACKEND}); it was passed on
     * to the other side, which may keep sending. The half-close grace runs from the last byte.
     */
    default void onHalfClosed(ConnectionInfo connection, CloseReason.Side side) {
    }

    /** The connection closed, both legs; {@link ConnectionInfo#closeReason()} is set. */
    default void onClosed(ConnectionInfo connection) {
    }

    /**
     * A backend connection was established: the TCP relay's, or each backend connection of an
     * HTTP connection (one per backend an exchange is sent to, reused for later exchanges).
     *
     * @param backend     the backend's resolved address
     * @param connectTime from starting to connect to connected (TCP; a backend TLS handshake
     *                    follows, see {@link #onTlsHandshake})
     */
    default void onBackendConnected(ConnectionInfo connection, InetSocketAddress backend, Duration connectTime) {
    }

    /**
     * A TLS handshake ended, done or failed: on the client leg of a connection whose TLS the proxy
     * terminates ({@code handshake.leg()} {@code CLIENT}) or on the backend leg of a route that
     * re-encrypts ({@code BACKEND}).
     */
    default void onTlsHandshake(ConnectionInfo connection, TlsHandshake handshake) {
    }

    /**
     * An HTTP exchange ended (its response was sent, or it failed); one call per exchange. See
     * {@link AccessLogListener} for a ready-made access log.
     */
    default void onHttpExchange(HttpExchange exchange) {
    }

    /** The connection switched to WebSocket through the proxy; {@code path} is the upgrade request's target. */
    default void onWebSocketUpgraded(ConnectionInfo connection, String path) {
    }

    /** A WebSocket the proxy reads ended: close codes each way and messages relayed. */
    default void onWebSocketClosed(ConnectionInfo connection, WebSocketClose close) {
    }

    /**
     * A live route update was applied ({@code SmartProxy.updateRoutes}), an identical one
     * ({@link RouteUpdate#noChange()}) included. Runs on the thread that called the update, after
     * the new table is in force, its listeners bound and closed, and the retirement of the
     * connections of removed or changed routes started; not for an update that was rejected.
     */
    default void onRoutesUpdated(RouteUpdate update) {
    }
}
