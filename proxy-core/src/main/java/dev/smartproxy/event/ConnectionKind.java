package dev.smartproxy.event;

/**
 * How a connection is carried; decides which keepalive mechanisms may touch it.
 *
 * <ul>
 *   <li>{@link #PASSTHROUGH}: TLS relayed unopened, routed by the SNI of its ClientHello (or a
 *       {@code PASSTHROUGH} route without domains). Kept alive by TCP keepalive and the
 *       inactivity policy; never pinged, since the proxy cannot see its frames.</li>
 *   <li>{@link #TERMINATED}: TLS ends at the proxy; the proxy sees HTTP and WebSocket frames.</li>
 *   <li>{@link #PLAIN}: raw TCP relayed as is.</li>
 * </ul>
 */
public enum ConnectionKind {
    /** Encrypted bytes relayed unchanged after an SNI peek. */
    PASSTHROUGH,
    /** TLS terminated at the proxy. */
    TERMINATED,
    /** Raw TCP. */
    PLAIN
}
