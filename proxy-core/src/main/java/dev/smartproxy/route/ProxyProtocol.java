package dev.smartproxy.route;

/**
 * The version of the PROXY protocol header a forward sends to its backend before the first byte
 * of each backend connection, so that the backend sees the real client instead of the proxy
 * (HAProxy's {@code accept-proxy}, nginx's {@code listen ... proxy_protocol}).
 *
 * <p>The header carries the client's address (after a PROXY header the proxy accepted, the
 * client that header named) as source, and the proxy's address the client connected to as
 * destination. When the proxy has no IP address for either side (the in-process transport),
 * it sends {@code PROXY UNKNOWN} (v1) or the v2 {@code PROXY} command with family
 * {@code AF_UNSPEC}: the backend then uses the connection's own addresses.
 * <pre>{@code
 * .forward(f -> f.target("10.0.0.5", 443).tls(TlsMode.PASSTHROUGH).sendProxyProtocol(ProxyProtocol.V2))
 * }</pre>
 */
public enum ProxyProtocol {
    /** Version 1: one text line, {@code PROXY TCP4 <src> <dst> <srcport> <dstport>\r\n}; addresses only. */
    V1,
    /**
     * Version 2: binary, with type-length-value extensions: {@code PP2_TYPE_AUTHORITY} carries
     * the SNI the client sent (when it sent one), and {@code PP2_TYPE_SSL} (client flag
     * {@code PP2_CLIENT_SSL}, verify 0) is present when the client connection was TLS, terminated
     * at the proxy (with the negotiated version as {@code PP2_SUBTYPE_SSL_VERSION}) or relayed
     * after a ClientHello.
     */
    V2
}
