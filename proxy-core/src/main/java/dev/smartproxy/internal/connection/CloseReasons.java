package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.ConnectException;

/**
 * The one table from a failure to its {@link CloseReason}: every handler that catches an
 * exception, and every failed connect, asks here, so that the same failure always reads the
 * same whichever handler saw it.
 *
 * <table>
 *   <caption>Failures on an established leg ({@link #of})</caption>
 *   <tr><th>cause (anywhere in the chain)</th><th>client leg</th><th>backend leg</th></tr>
 *   <tr><td>{@link SslHandshakeTimeoutException}</td><td>{@code TLS_HANDSHAKE_TIMEOUT}</td><td>{@code CONNECT_TIMEOUT}</td></tr>
 *   <tr><td>{@link SSLException} refusing a client certificate ({@link #clientCertificate})</td>
 *       <td>{@code CLIENT_CERTIFICATE_MISSING} / {@code CLIENT_CERTIFICATE_REJECTED}</td><td>-</td></tr>
 *   <tr><td>{@link SSLException} (plaintext on a TLS port included)</td><td>{@code TLS_HANDSHAKE_FAILED}</td>
 *       <td>{@code BACKEND_PROTOCOL_ERROR} (a handshake that fails is a connect failure:
 *       {@link #connectFailure})</td></tr>
 *   <tr><td>any other {@link DecoderException} (bad HTTP, a frame too long)</td>
 *       <td>{@code PROTOCOL_ERROR}</td><td>{@code BACKEND_PROTOCOL_ERROR}</td></tr>
 *   <tr><td>{@link IOException} whose message says "timed out" (keepalive probes,
 *       {@code TCP_USER_TIMEOUT})</td><td>{@code CLIENT_UNREACHABLE}</td><td>{@code BACKEND_UNREACHABLE}</td></tr>
 *   <tr><td>any other {@link IOException} (a reset, a broken pipe)</td><td>{@code CLIENT_RESET}</td><td>{@code BACKEND_RESET}</td></tr>
 *   <tr><td>anything else: a defect</td><td colspan="2">{@code PROXY_ERROR}</td></tr>
 * </table>
 *
 * <p>Every reason but {@code PROXY_ERROR} is an expected failure: one DEBUG line, no stack trace
 * ({@link #expected}).
 */
public final class CloseReasons {
    /** Which side of the proxy a failure happened on. */
    public enum Leg { CLIENT, BACKEND }

    private CloseReasons() {
    }

    /** The reason for {@code cause}, raised on {@code leg}. */
    public static CloseReason of(Throwable cause, Leg leg) {
        boolean client = leg == Leg.CLIENT;
        if (has(cause, SslHandshakeTimeoutException.class)) {
            return client ? CloseReason.TLS_HANDSHAKE_TIMEOUT : CloseReason.CONNECT_TIMEOUT;
        }
        if (has(cause, SSLException.class)) {
            // A backend's TLS failing on a leg that is up is the backend breaking the protocol; one
            // failing its handshake is a failed connect, which connectFailure reports.
            if (client) {
                CloseReason certificate = clientCertificate(cause);
                return certificate != null ? certificate : CloseReason.TLS_HANDSHAKE_FAILED;
            }
            return CloseReason.BACKEND_PROTOCOL_ERROR;
        }
        if (cause instanceof DecoderException) {
            return client ? CloseReason.PROTOCOL_ERROR : CloseReason.BACKEND_PROTOCOL_ERROR;
        }
        if (has(cause, IOException.class)) {
            if (timedOut(cause)) {
                return client ? CloseReason.CLIENT_UNREACHABLE : CloseReason.BACKEND_UNREACHABLE;
            }
            return client ? CloseReason.CLIENT_RESET : CloseReason.BACKEND_RESET;
        }
        return CloseReason.PROXY_ERROR;
    }

    /** How the proxy's client-certificate verifier starts the message of a refusal (internal/tls). */
    public static final String CLIENT_CERTIFICATE_REJECTED = "client certificate rejected: ";
    /** The JDK's message when a required client certificate was not sent (TLS 1.2 and 1.3). */
    private static final String JDK_NO_CLIENT_CERTIFICATE = "Empty client certificate chain";
    /** BoringSSL's / OpenSSL's words for the same. */
    private static final String[] OPENSSL_NO_CLIENT_CERTIFICATE = {"PEER_DID_NOT_RETURN_A_CERTIFICATE",
            "CERTIFICATE_REQUIRED", "peer did not return a certificate"};

    /**
     * Why a server handshake failed, if a client certificate was the reason, on either TLS
     * engine: {@code CLIENT_CERTIFICATE_REJECTED} when the proxy's verifier refused the one sent
     * (its message starts with {@link #CLIENT_CERTIFICATE_REJECTED}, anywhere in the chain),
     * {@code CLIENT_CERTIFICATE_MISSING} when none was sent where one is required (the engine's
     * own words); null for any other failure.
     */
    public static CloseReason clientCertificate(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (String.valueOf(t.getMessage()).startsWith(CLIENT_CERTIFICATE_REJECTED)) {
                return CloseReason.CLIENT_CERTIFICATE_REJECTED;
            }
        }
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains(JDK_NO_CLIENT_CERTIFICATE)) {
                return CloseReason.CLIENT_CERTIFICATE_MISSING;
            }
            for (String s : OPENSSL_NO_CLIENT_CERTIFICATE) {
                if (m.contains(s)) {
                    return CloseReason.CLIENT_CERTIFICATE_MISSING;
                }
            }
        }
        return null;
    }

    /**
     * The reason for a backend connect that failed: timed out (TCP, or a re-encrypting TLS
     * handshake the backend never finished), refused, reset (the backend accepted, then reset
     * before the proxy saw the connect complete), a TLS handshake that failed (an untrusted
     * certificate), or anything else.
     */
    public static CloseReason connectFailure(Throwable cause) {
        if (has(cause, ConnectTimeoutException.class) || has(cause, SslHandshakeTimeoutException.class)) {
            return CloseReason.CONNECT_TIMEOUT;
        }
        if (cause instanceof ConnectException && String.valueOf(cause.getMessage()).contains("refused")) {
            return CloseReason.CONNECT_REFUSED;
        }
        if (String.valueOf(cause.getMessage()).contains("Connection reset")) {
            return CloseReason.BACKEND_RESET;
        }
        return CloseReason.CONNECT_FAILED;
    }

    /** Whether a failure with this reason is routine (logged in one line, no stack trace). */
    public static boolean expected(CloseReason reason) {
        return reason != CloseReason.PROXY_ERROR;
    }

    /** Whether the cause, or any cause below it, is a {@code type}. */
    public static boolean has(Throwable cause, Class<? extends Throwable> type) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** Whether an I/O error says the peer stopped answering (ETIMEDOUT), rather than reset. */
    public static boolean timedOut(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            if (m != null && m.contains("timed out")) {
                return true;
            }
        }
        return false;
    }
}
