package dev.smartproxy.event;

/**
 * Receives connection events. Every method has a no-op default; implement what you need.
 *
 * <p>Order per connection: {@link #onAccepted}; then {@link #onClassified} if a route took it;
 * then, any number of times and in any order, {@link #onInactivityWarning} (under
 * {@code EXTENDED}, each time the connection idles out and then only if it was not closed) and
 * at most one {@link #onHalfClosed}; then exactly one {@link #onClosed}, always last. Methods run on the connection's I/O thread: return
 * quickly and never block; hand slow work to another executor. An exception thrown by a
 * listener is logged and does not affect the connection.
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
     * A live route update was applied ({@code SmartProxy.updateRoutes}), an identical one
     * ({@link RouteUpdate#noChange()}) included. Runs on the thread that called the update, after
     * the new table is in force, its listeners bound and closed, and the retirement of the
     * connections of removed or changed routes started; not for an update that was rejected.
     */
    default void onRoutesUpdated(RouteUpdate update) {
    }
}
