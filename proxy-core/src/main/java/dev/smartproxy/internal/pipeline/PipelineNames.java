package dev.smartproxy.internal.pipeline;

/**
 * The names of the handlers in a connection's pipelines, in pipeline order.
 *
 * <pre>
 * client channel                                backend channel
 * ----------------------------------            -----------------------
 * bytes         (counts raw bytes read)
 * client-hello  (only while peeking SNI;
 *                removes itself once routed)
 * client        (routing, connect, relay  ----&gt;  backend  (relay back to the client,
 *                to the backend, half-close,                 half-close, errors)
 *                errors, accounting)      &lt;----
 * </pre>
 *
 * <p>There is no WebSocket or heartbeat handler in either pipeline: passthrough and plain
 * connections carry opaque bytes, so nothing can ping them.
 */
public final class PipelineNames {
    /** Counts raw bytes read ({@link ByteCounter}); first in every client pipeline. */
    public static final String BYTES = "bytes";
    /** The ClientHello peek ({@link ClientHelloClassifier}). */
    public static final String CLIENT_HELLO = "client-hello";
    /** The client-side relay ({@link ClientHandler}). */
    public static final String CLIENT = "client";
    /** TLS termination ({@code SslHandler}, certificate chosen by SNI); terminated branch only. */
    public static final String TLS = "tls";
    /** The HTTP/1.1 server codec; terminated and plain-HTTP branches only. */
    public static final String HTTP_CODEC = "http-codec";
    /** The HTTP reverse proxy; terminated and plain-HTTP branches only. */
    public static final String HTTP_PROXY = "http-proxy";
    /** A user's handler, for routes with a handler action; after {@link #CLIENT}. */
    public static final String USER = "user";
    /** The backend-side relay ({@link BackendHandler}). */
    public static final String BACKEND = "backend";

    private PipelineNames() {
    }
}
