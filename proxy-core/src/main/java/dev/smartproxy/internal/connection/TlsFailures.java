package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.metrics.TlsFailureCause;
import io.netty.handler.ssl.SslHandshakeTimeoutException;

import java.nio.channels.ClosedChannelException;
import java.security.cert.CertificateException;
import java.util.Locale;

/**
 * The one table from a failed TLS handshake to a bounded {@link TlsFailureCause}: the exception
 * (and its causes) first, then the connection's recorded close reason, then the text of the
 * JDK's and OpenSSL's messages. Pure.
 */
public final class TlsFailures {
    private TlsFailures() {
    }

    /**
     * The cause of a handshake that failed with {@code failure} on a client leg ({@code true}) or a
     * backend leg; {@code recorded} is the connection's close reason so far (may be null).
     */
    public static TlsFailureCause classify(Throwable failure, CloseReason recorded, boolean clientLeg) {
        if (recorded == CloseReason.TLS_HANDSHAKE_TIMEOUT) {
            return TlsFailureCause.HANDSHAKE_TIMEOUT;
        }
        if (clientLeg && (recorded == CloseReason.CLIENT_CERTIFICATE_MISSING
                || recorded == CloseReason.CLIENT_CERTIFICATE_REJECTED)) {
            return TlsFailureCause.CLIENT_CERTIFICATE;
        }
        StringBuilder text = new StringBuilder();
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SslHandshakeTimeoutException) {
                return TlsFailureCause.HANDSHAKE_TIMEOUT;
            }
            if (t instanceof CertificateException || t instanceof java.security.cert.CertPathValidatorException) {
                return TlsFailureCause.UNTRUSTED_CERTIFICATE;
            }
            if (t instanceof ClosedChannelException) {
                return TlsFailureCause.CLOSED_DURING_HANDSHAKE;
            }
            text.append(' ').append(t.getMessage());
        }
        String m = text.toString().toLowerCase(Locale.ROOT);
        if (m.contains("cipher")) { // "no cipher suites in common", NO_SHARED_CIPHER
            return TlsFailureCause.NO_SHARED_CIPHER;
        }
        if (m.contains("protocol_version") || m.contains("unsupported_protocol") || m.contains("no appropriate protocol")
                || m.contains("protocol is disabled") || m.contains("wrong_version") || m.contains("unsupported protocol")
                || m.contains("version")) {
            return TlsFailureCause.UNSUPPORTED_PROTOCOL;
        }
        if (m.contains("certificate") || m.contains("pkix") || m.contains("subject alternative")
                || m.contains("certification path")) {
            return TlsFailureCause.UNTRUSTED_CERTIFICATE;
        }
        if (m.contains("closed") || m.contains("reset") || m.contains("broken pipe") || m.contains("end of stream")) {
            return TlsFailureCause.CLOSED_DURING_HANDSHAKE;
        }
        return TlsFailureCause.OTHER;
    }

    /** A short text for an event: the cause and the exception's first message, on one line. */
    static String describe(TlsFailureCause cause, Throwable failure) {
        String msg = failure.getMessage();
        if (msg == null && failure.getCause() != null) {
            msg = failure.getCause().getMessage();
        }
        if (msg == null) {
            msg = failure.getClass().getSimpleName();
        }
        msg = msg.replaceAll("[\\r\\n]+", " ");
        if (msg.length() > 200) {
            msg = msg.substring(0, 200) + "...";
        }
        return cause + ": " + msg;
    }
}
