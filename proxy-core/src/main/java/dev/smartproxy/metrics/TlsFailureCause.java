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
    /** The client sent no certificate where one is required, or one that did not verify. */
    CLIENT_CERTIFICATE,
    /** The backend's certificate did not verify (untrusted issuer, wrong name, expired). */
    UNTRUSTED_CERTIFICATE,
    /** The peer closed or reset the connection during the handshake. */
    CLOSED_DURING_HANDSHAKE,
    /** A client tried to renegotiate a TLS 1.2 session (refused). */
    RENEGOTIATION,
    /** Anything else: garbage instead of TLS, an alert the proxy does not tell apart. */
    OTHER
}
