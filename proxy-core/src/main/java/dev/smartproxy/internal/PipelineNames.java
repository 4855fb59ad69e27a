package dev.smartproxy.internal;

import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ByteCounter;
/**
 * The names of the handlers in a connection's pipelines, in pipeline order.
 *
 * <pre>
 * PASSTHROUGH / PLAIN (relayed)               backend channel
 * ---------------------------------           ----------------------------
 * bytes         counts raw bytes read
 * client-hello  only while peeking SNI;
 *               removes itself once routed
 * client        routing, connect, relay  ---&gt;  backend   relay back, FINs, errors
 *               half-close, errors      &lt;---
 * user          only for handler routes
 *
 * TERMINATED / plain HTTP                     backend channel (one per target, reused)
 * ---------------------------------           ----------------------------
 * bytes         counts raw bytes read         bytes
 * tls-guard     (TERMINATED) refuses TLS 1.2
 *               renegotiation; gone under 1.3
 * tls           SslHandler (TERMINATED)       backend-tls       (TERMINATE_AND_REENCRYPT)
 * http-gate     decoding paused with reads
 * http-codec    HttpServerCodec               backend-http-codec
 * http-proxy    per-request routing    ---&gt;   backend-http
 * client        lifecycle, errors
 *
 * after a WebSocket upgrade, on both channels: the HTTP handlers are gone, and
 * ws-encoder, ws-decoder, ws-relay (frame relay and the heartbeat) follow
 * </pre>
 *
 * <p>The heartbeat lives only in {@code ws-relay}, which exists only after an HTTP upgrade the
 * proxy itself relayed: a passthrough or plain connection carries opaque bytes and can never
 * be pinged.
 */
public final class PipelineNames {
    /** Counts raw bytes read ({@link ByteCounter}); first in every client pipeline. */
    public static final String BYTES = "bytes";
    /** The ClientHello peek ({@link ClientHelloClassifier}). */
    public static final String CLIENT_HELLO = "client-hello";
    /** The client-side relay ({@link ClientHandler}). */
    public static final String CLIENT = "client";
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
    /** A user's handler, for routes with a handler action; after {@link #CLIENT}. */
    public static final String USER = "user";
    /** Backend TLS for re-encryption ({@link BackendConnector}); first after the byte counter. */
    public static final String BACKEND_TLS = BackendConnector.BACKEND_TLS;
    /** The HTTP/1.1 client codec on a backend channel of the HTTP proxy. */
    public static final String BACKEND_HTTP_CODEC = "backend-http-codec";
    /** The HTTP proxy's backend leg handler. */
    public static final String BACKEND_HTTP = "backend-http";
    /** The backend-side relay ({@link BackendHandler}). */
    public static final String BACKEND = "backend";

    private PipelineNames() {
    }
}
