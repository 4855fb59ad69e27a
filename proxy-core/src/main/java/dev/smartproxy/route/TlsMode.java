package dev.smartproxy.route;

/**
 * How a forwarding route treats TLS.
 *
 * <p>A route without a TLS mode ({@link ForwardAction#tlsMode()} empty) relays raw TCP; its
 * connections are tagged {@link dev.smartproxy.event.ConnectionKind#PLAIN}.
 */
public enum TlsMode {
    /**
     * The proxy reads the TLS ClientHello only to learn the SNI name, then relays every byte,
     * the ClientHello included, unchanged. TLS ends at the backend; the proxy never sees inside
     * the stream, so it never injects anything into it. Connections are tagged
     * {@link dev.smartproxy.event.ConnectionKind#PASSTHROUGH}.
     */
    PASSTHROUGH,
    /**
     * TLS ends at the proxy, with the certificate chosen for the SNI name
     * ({@code SmartProxy.Builder.certificate}); the proxy reads HTTP/1.1 (and WebSocket frames
     * after an upgrade) and forwards each request over a plain backend leg. Connections are
     * tagged {@link dev.smartproxy.event.ConnectionKind#TERMINATED}. {@code build()} requires a
     * certificate (or a default one) on the proxy.
     */
    TERMINATE,
    /**
     * As {@link #TERMINATE}, and the backend leg is TLS again: SNI set to the target host, the
     * backend's certificate verified as {@link ForwardAction#backendTls()} says (default: the
     * system trust store). Connections are tagged
     * {@link dev.smartproxy.event.ConnectionKind#TERMINATED}.
     */
    TERMINATE_AND_REENCRYPT
}
