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
    /** TLS ends at the proxy; the backend leg is plain. Not yet carried: {@code build()} rejects it. */
    TERMINATE,
    /** TLS ends at the proxy and a new TLS session is opened to the backend. Not yet carried: {@code build()} rejects it. */
    TERMINATE_AND_REENCRYPT
}
