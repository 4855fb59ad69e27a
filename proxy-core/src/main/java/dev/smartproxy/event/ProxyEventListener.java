package dev.smartproxy.event;

/**
 * Receives connection events. Every method has a no-op default; implement what you need.
 *
 * <p>Order per connection: {@link #onAccepted}, then {@link #onRouted} if a route took it,
 * then exactly one {@link #onClosed}. Methods run on the connection's I/O thread: return
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

    /** A route took the connection; its kind, route and backend address are set. */
    default void onRouted(ConnectionInfo connection) {
    }

    /** The connection closed, both legs; {@link ConnectionInfo#closeReason()} is set. */
    default void onClosed(ConnectionInfo connection) {
    }
}
