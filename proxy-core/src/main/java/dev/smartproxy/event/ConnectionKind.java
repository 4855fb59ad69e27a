package dev.smartproxy.event;

/**
 * How a connection is carried; with {@link ConnectionInfo#webSocket()}, it tells exactly which
 * keepalive mechanisms may touch the connection.
 *
 * <table>
 *   <caption>Kinds and what keeps them alive</caption>
 *   <tr><th>kind</th><th>what the proxy sees</th><th>kept alive / closed by</th></tr>
 *   <tr><td>{@link #PASSTHROUGH}</td><td>a TLS ClientHello, peeked for SNI; then opaque bytes</td>
 *       <td>TCP keepalive and the inactivity policy; never a WebSocket ping</td></tr>
 *   <tr><td>{@link #TERMINATED}</td><td>TLS ends at the proxy: HTTP/1.1 requests, WebSocket frames</td>
 *       <td>TCP keepalive, the inactivity policy, and the WebSocket heartbeat once upgraded</td></tr>
 *   <tr><td>{@link #PLAIN}</td><td>cleartext: raw TCP, or plain HTTP on a route that reads it</td>
 *       <td>TCP keepalive, the inactivity policy, and the WebSocket heartbeat once a plain-HTTP
 *       connection is upgraded through the proxy</td></tr>
 * </table>
 *
 * <p><b>The heartbeat rule.</b> The proxy's WebSocket heartbeat (ping/pong, {@code WebSocketSettings})
 * runs exactly where the proxy reads frames, that is on the connections whose
 * {@link ConnectionInfo#webSocket()} is true: {@code TERMINATED} connections and cleartext HTTP
 * ({@code PLAIN}) connections that upgraded through the proxy. A raw TCP relay or a passthrough
 * stream is never pinged, whatever it carries, because the proxy cannot see its frames.
 *
 * <p>The kind also selects the overrides set with {@code SmartProxy.builder().policyFor(kind, ...)}
 * (keepalive treatment, inactivity timeout, lifetime; route &gt; kind &gt; proxy) and the half-close
 * grace ({@code halfCloseGracePlain} for {@code PLAIN}, {@code halfCloseGraceTls} otherwise).
 */
public enum ConnectionKind {
    /** TLS relayed unopened after an SNI peek (or a {@code PASSTHROUGH} route without domains); never pinged. */
    PASSTHROUGH,
    /** TLS terminated at the proxy; HTTP and WebSocket frames are read, WebSockets are pinged. */
    TERMINATED,
    /**
     * Cleartext: raw TCP relayed as is (never pinged), or plain HTTP on a route that reads it,
     * whose WebSockets, once upgraded through the proxy, are read and pinged
     * ({@link ConnectionInfo#webSocket()} true).
     */
    PLAIN
}
