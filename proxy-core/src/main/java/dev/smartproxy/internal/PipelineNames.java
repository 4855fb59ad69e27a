package dev.smartproxy.internal;

/**
 * The names of the handlers in a connection's pipelines, in pipeline order: every name, client
 * and backend side; no other string names a handler.
 *
 * <p>Each stage of the accept path does one job and replaces itself with the next: the accept
 * stage (not a handler) registers the connection, admits it and either routes it at once or
 * installs the ClientHello peek; the router (not a handler either) registers the route and
 * installs exactly one branch. No handler stays in a pipeline to forward events for another.
 *
 * <pre>
 * on a listener that accepts the PROXY protocol, first (all three leave after the header)
 * ---------------------------------
 * bytes             counts raw bytes read
 * proxy-protocol    from a trusted peer: signature check, size cap, timeout; then
 *                   admission and classification on the client address it carried
 * proxy-decoder     Netty's HAProxyMessageDecoder (strict v1/v2 parse)
 * proxy-header      receives the decoded header or the decoder's failure
 * proxy-untrusted   from anyone else, instead of the three: a PROXY signature in the
 *                   first bytes closes; anything else flows on (leaves at once)
 *
 * while undecided (a port whose routes need the first bytes)
 * ---------------------------------
 * bytes             counts raw bytes read
 * client-hello      the ClientHello peek; replaced by the branch once routed
 * client-unrouted   only with client-hello: records why Netty's peek rejected a
 *                   hello, closes on a FIN or an error before any route
 *
 * PASSTHROUGH / PLAIN relayed (TCP relay)     backend channel
 * ---------------------------------           ----------------------------
 * bytes         counts raw bytes read         backend   relay back, FINs, resets
 * relay         connect, pending bytes,  ---&gt;
 *               backpressure, half-close,
 *               resets both ways         &lt;---
 *
 * TERMINATED / plain HTTP                     backend channel (one per target, reused)
 * ---------------------------------           ----------------------------
 * bytes         counts raw bytes read         bytes
 * tls-guard     (TERMINATED) refuses TLS 1.2
 *               renegotiation; gone under 1.3
 * tls           SslHandler (TERMINATED)       backend-tls       (TERMINATE_AND_REENCRYPT)
 * http-gate     decoding paused with reads
 * http-codec    ServerCodec; a response may   backend-http-codec BackendCodec; a response
 *               pass it as bytes                                 may pass it as bytes
 * http-proxy    per-request routing    ---&gt;   backend-http
 * client-errors a client error that passes
 *               the HTTP handlers: a reason,
 *               then close (exceptions only)
 *
 * after a WebSocket upgrade, on both channels: the HTTP handlers are gone, and
 * ws-encoder, ws-decoder, ws-relay (frame relay and the heartbeat) follow
 *
 * a route that sends the PROXY protocol: backend-proxy-header-encoder and
 * backend-proxy-header lead its backend channels (after bytes, if any) until the header is out
 *
 * handler route                               block (no conditions)
 * ---------------------------------           ----------------------------
 * bytes         counts raw bytes read         nothing: recorded, closed with BLOCKED
 * client-errors socket errors: a reason,
 *               then a reset (exceptions only)
 * user          the route's handler
 * </pre>
 *
 * <p>The heartbeat lives only in {@code ws-relay}, which exists only after an HTTP upgrade the
 * proxy itself relayed: a passthrough or plain connection carries opaque bytes and can never
 * be pinged. Connection close accounting is not a handler: it runs on each leg's close future.
 */
public final class PipelineNames {
    /** Counts raw bytes read ({@code ByteCounter}); first in every client pipeline. */
    public static final String BYTES = "bytes";
    /**
     * The PROXY protocol stage's front ({@code ProxyProtocolStage}), from a trusted peer: checks the
     * signature, caps the size, times out, then admits and classifies on the real client address.
     */
    public static final String PROXY_PROTOCOL = "proxy-protocol";
    /** Netty's {@code HAProxyMessageDecoder}, right after {@link #PROXY_PROTOCOL}; leaves after the header. */
    public static final String PROXY_DECODER = "proxy-decoder";
    /** Right after {@link #PROXY_DECODER}: takes the decoded header or its failure; leaves with the stage. */
    public static final String PROXY_HEADER = "proxy-header";
    /** From an untrusted peer on a PROXY protocol listener: refuses a PROXY header, else leaves at once. */
    public static final String PROXY_UNTRUSTED = "proxy-untrusted";
    /** The ClientHello peek ({@code ClientHelloClassifier}); replaced by the branch once routed. */
    public static final String CLIENT_HELLO = "client-hello";
    /**
     * Right after {@link #CLIENT_HELLO} and removed with it: what ends a connection before it is
     * routed (the peek's rejection event, a FIN, a socket error).
     */
    public static final String CLIENT_UNROUTED = "client-unrouted";
    /** The TCP relay's client side ({@code TcpRelay}); forward routes that relay bytes only. */
    public static final String RELAY = "relay";
    /**
     * Just before {@link #TLS}: follows the client's TLS records, refuses client-initiated
     * renegotiation and records a handshake timeout ({@code ClientTlsGuard}); removes itself
     * once a TLS 1.3 handshake completes. Terminated branch only.
     */
    public static final String TLS_GUARD = "tls-guard";
    /** TLS termination ({@code SslHandler}, certificate chosen by SNI); terminated branch only. */
    public static final String TLS = "tls";
    /** Feeds client bytes to the codec only while they are read ({@code RequestGate}); HTTP branches only. */
    public static final String HTTP_GATE = "http-gate";
    /** The HTTP/1.1 server codec; terminated and plain-HTTP branches only. */
    public static final String HTTP_CODEC = "http-codec";
    /** The HTTP reverse proxy; terminated and plain-HTTP branches only. */
    public static final String HTTP_PROXY = "http-proxy";
    /**
     * The client errors of the HTTP and handler branches ({@code ClientErrors}): after the HTTP
     * handlers, before a user's handler. Handles exceptions only, so Netty skips it for every
     * other event.
     */
    public static final String CLIENT_ERRORS = "client-errors";
    /** A user's handler, for routes with a handler action; last. */
    public static final String USER = "user";
    /** WebSocket frame encoder, on both legs after an upgrade ({@code WebSocketRelay}). */
    public static final String WS_ENCODER = "ws-encoder";
    /** WebSocket frame decoder, on both legs after an upgrade ({@code WebSocketRelay}). */
    public static final String WS_DECODER = "ws-decoder";
    /** The WebSocket frame relay and heartbeat, on both legs after an upgrade ({@code WebSocketRelay}). */
    public static final String WS_RELAY = "ws-relay";
    /**
     * Netty's {@code HAProxyMessageEncoder}, on a backend channel of a route that sends the PROXY
     * protocol, just before {@link #BACKEND_PROXY_HEADER}; both leave once the header is written.
     */
    public static final String BACKEND_PROXY_HEADER_ENCODER = "backend-proxy-header-encoder";
    /**
     * Writes the PROXY protocol header before any other byte ({@code ProxyHeaderWriter}): after
     * the byte counter, before backend TLS; gone once the header is written.
     */
    public static final String BACKEND_PROXY_HEADER = "backend-proxy-header";
    /** Backend TLS for re-encryption ({@code BackendConnector}); first after the byte counter. */
    public static final String BACKEND_TLS = "backend-tls";
    /** The HTTP/1.1 client codec on a backend channel of the HTTP proxy. */
    public static final String BACKEND_HTTP_CODEC = "backend-http-codec";
    /** The HTTP proxy's backend leg handler. */
    public static final String BACKEND_HTTP = "backend-http";
    /** The TCP relay on the backend channel ({@code TcpRelay}, the same instance as on the client channel). */
    public static final String BACKEND = "backend";

    private PipelineNames() {
    }
}
