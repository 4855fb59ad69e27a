package dev.smartproxy.metrics;

/** Why a TLS handshake the proxy took part in failed; a bounded set, fit for a metric tag. */
public enum TlsFailureCause {
    /** The peer did not finish the handshake in time. */
    HANDSHAKE_TIMEOUT,
    /** The proxy had no certificate for the name asked for, and no default. */
    NO_CERTIFICATE,
    /** No protocol version both sides accept. */
    UNSUPPORTED_PROTOCOL,
    /** No cipher suite both sides accept. */
    NO_SHARED_CIPHER,
    /** The client sent no certificate where one is required ({@code ClientAuth}), or one that did not verify. */
    CLIENT_CERTIFICATE,
    /**
     * A certificate was not trusted: on a backend leg, the backend's (unknown issuer, wrong name,
     * expired); on a client leg, the proxy's, refused by the client (its alert
     * {@code bad_certificate} or {@code certificate_unknown}).
     */
    UNTRUSTED_CERTIFICATE,
    /** The peer closed or reset the connection during the handshake. */
    CLOSED_DURING_HANDSHAKE,
    /** A client tried to renegotiate a TLS 1.2 session (refused). */
    RENEGOTIATION,
    /** Anything else: garbage instead of TLS, an alert the proxy does not tell apart. */
    OTHER
}
