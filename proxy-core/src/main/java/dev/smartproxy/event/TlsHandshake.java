package dev.smartproxy.event;

import java.time.Duration;

/**
 * A TLS handshake the proxy took part in, done or failed: on the client leg of a connection whose
 * TLS the proxy terminates, or on the backend leg of a route that re-encrypts to its backend.
 *
 * @param leg         {@link CloseReason.Side#CLIENT} or {@link CloseReason.Side#BACKEND}
 * @param succeeded   whether it completed
 * @param protocol    the negotiated protocol ({@code "TLSv1.3"}); null if it failed
 * @param cipherSuite the negotiated cipher suite; null if it failed
 * @param failure     a short cause text when it failed (e.g. {@code "NO_SHARED_CIPHER: no cipher
 *                    suites in common"}); null if it succeeded
 * @param duration    from the start of the handshake (the start of termination on the client leg,
 *                    the connect on the backend leg) to its end
 */
public record TlsHandshake(CloseReason.Side leg, boolean succeeded, String protocol, String cipherSuite,
                           String failure, Duration duration) {
}
