package dev.smartproxy.event;

/**
 * Why a connection closed. Every connection closes with exactly one reason: the first cause
 * recorded wins, whatever follows from it (the backend leg closing because the client left is
 * still {@link #CLIENT_CLOSED}).
 */
public enum CloseReason {
    /** The client closed its side (FIN) and the connection ended normally. */
    CLIENT_CLOSED(Side.CLIENT),
    /** The backend closed its side (FIN) and the connection ended normally. */
    BACKEND_CLOSED(Side.BACKEND),
    /** The client connection failed: a reset (RST) or another socket error. */
    CLIENT_RESET(Side.CLIENT),
    /** The backend connection failed: a reset (RST) or another socket error. */
    BACKEND_RESET(Side.BACKEND),
    /**
     * The client stopped answering without a FIN or RST: TCP keepalive probes or
     * {@code TCP_USER_TIMEOUT} found it gone (the kernel reported the connection timed out).
     */
    CLIENT_UNREACHABLE(Side.CLIENT),
    /** The backend stopped answering without a FIN or RST, as found by TCP keepalive or {@code TCP_USER_TIMEOUT}. */
    BACKEND_UNREACHABLE(Side.BACKEND),
    /** No byte in either direction for the effective inactivity timeout. */
    INACTIVITY(Side.PROXY),
    /** The connection reached its maximum lifetime. */
    MAX_LIFETIME(Side.PROXY),
    /** One side closed and the other sent nothing for the half-close grace. */
    HALF_CLOSE_GRACE_EXPIRED(Side.PROXY),
    /** The backend did not accept the connection within the connect timeout. */
    CONNECT_TIMEOUT(Side.BACKEND),
    /** The backend refused the connection (RST to the SYN). */
    CONNECT_REFUSED(Side.BACKEND),
    /** The backend could not be reached: unresolvable name, unreachable network, other errors. */
    CONNECT_FAILED(Side.BACKEND),
    /** No complete ClientHello arrived within the initial data timeout. */
    CLIENT_HELLO_TIMEOUT(Side.CLIENT),
    /** The first bytes were not a well-formed TLS ClientHello where one was required. */
    CLIENT_HELLO_INVALID(Side.CLIENT),
    /** The ClientHello was larger than the configured maximum. */
    CLIENT_HELLO_TOO_LARGE(Side.CLIENT),
    /**
     * TLS termination failed: no certificate for the name and no default, or the client's
     * handshake failed (no shared protocol or cipher, a bad certificate on its side, garbage).
     */
    TLS_HANDSHAKE_FAILED(Side.CLIENT),
    /**
     * The client did not complete the TLS handshake on a route that terminates TLS within the
     * initial data timeout, counted from the start of termination (once the ClientHello has been
     * read where it is peeked, else from accept): it stalled, or went silent after its ClientHello.
     */
    TLS_HANDSHAKE_TIMEOUT(Side.CLIENT),
    /**
     * A client tried to renegotiate a TLS 1.2 session the proxy terminates (a handshake record
     * after the handshake). The proxy refuses client-initiated renegotiation with every TLS engine:
     * it costs the proxy a full handshake each time and no HTTP/1.1 client needs it. TLS 1.3 has
     * no renegotiation.
     */
    TLS_RENEGOTIATION_REFUSED(Side.CLIENT),
    /**
     * A peer that is not a trusted proxy sent a PROXY protocol header on a listener that accepts
     * them ({@code acceptProxyProtocol}): it may not say who the client is.
     */
    PROXY_PROTOCOL_UNTRUSTED(Side.CLIENT),
    /** A trusted proxy's connection did not open with a PROXY protocol header (v1 or v2). */
    PROXY_PROTOCOL_MISSING(Side.CLIENT),
    /** A trusted proxy's PROXY protocol header was malformed (v1 or v2, strictly parsed). */
    PROXY_PROTOCOL_INVALID(Side.CLIENT),
    /**
     * A trusted proxy's PROXY protocol header was larger than allowed: a v1 line longer than 108
     * bytes, or a v2 header (with its TLVs) longer than its cap.
     */
    PROXY_PROTOCOL_TOO_LARGE(Side.CLIENT),
    /** A trusted proxy's PROXY protocol header did not arrive complete within the initial data timeout. */
    PROXY_PROTOCOL_TIMEOUT(Side.CLIENT),
    /**
     * The TLS handshake ended because the client sent no certificate for a name whose certificate
     * requires one ({@code ClientAuth.required}).
     */
    CLIENT_CERTIFICATE_MISSING(Side.CLIENT),
    /**
     * The TLS handshake ended because the client's certificate did not verify against the CAs of
     * the name's {@code ClientAuth} (unknown issuer, expired, not for client use).
     */
    CLIENT_CERTIFICATE_REJECTED(Side.CLIENT),
    /** The ClientHello carried no SNI and no route without domains took the connection. */
    NO_SNI(Side.PROXY),
    /** No route matched. */
    NO_ROUTE(Side.PROXY),
    /**
     * The client broke the protocol the proxy reads on a terminated connection: a malformed or
     * ambiguous HTTP request (request smuggling attempts included), a header or line over the
     * limits, an invalid or oversized WebSocket frame.
     */
    PROTOCOL_ERROR(Side.CLIENT),
    /**
     * An HTTP client sent no complete request head within {@code requestTimeout}: an idle
     * keep-alive connection, or a request sent too slowly.
     */
    REQUEST_TIMEOUT(Side.CLIENT),
    /** The backend broke the HTTP or WebSocket protocol on a terminated connection. */
    BACKEND_PROTOCOL_ERROR(Side.BACKEND),
    /**
     * The client address is refused by an IP rule: the proxy-wide allow or block list (closed at
     * accept, before any byte is read), or the chosen route's ({@code RouteSecurity}).
     */
    IP_BLOCKED(Side.PROXY),
    /** The client IP already had {@code maxConnectionsPerIp} connections open (closed at accept). */
    IP_CONNECTION_LIMIT(Side.PROXY),
    /** The client IP opened connections faster than {@code connectionRateLimitPerMinute} (closed at accept). */
    RATE_LIMITED(Side.PROXY),
    /** The chosen route already had its {@code maxConnections} open ({@code RouteSecurity}). */
    ROUTE_CONNECTION_LIMIT(Side.PROXY),
    /** A route's block action refused the connection or request. */
    BLOCKED(Side.PROXY),
    /** The proxy was shut down. */
    SHUTDOWN(Side.PROXY),
    /**
     * A live route update removed the connection's route, and that route's retirement is
     * {@code drain} (closed after its deadline) or {@code close} (closed at once).
     */
    ROUTE_REMOVED(Side.PROXY),
    /**
     * A live route update changed the connection's route (same name, another definition), and the
     * new definition's retirement is {@code drain} (closed after its deadline) or {@code close}
     * (closed at once).
     */
    ROUTE_CHANGED(Side.PROXY),
    /** A WebSocket peer stopped answering pings on a terminated leg. */
    HEARTBEAT_TIMEOUT(Side.PROXY),
    /** An unexpected internal error; a bug worth reporting. */
    PROXY_ERROR(Side.PROXY);

    /** Which party caused a close. */
    public enum Side {
        /** The client or its connection. */
        CLIENT,
        /** The backend or its connection. */
        BACKEND,
        /** A proxy decision: a policy, a rule or a shutdown. */
        PROXY
    }

    private final Side side;

    CloseReason(Side side) {
        this.side = side;
    }

    /** The party that caused this close. */
    public Side side() {
        return side;
    }
}
