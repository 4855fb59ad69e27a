package dev.smartproxy.internal.tls;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.CloseReasons;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLHandshakeException;
import java.security.cert.CertificateException;

import static org.assertj.core.api.Assertions.assertThat;

class ClientCertificatesTest {
    @Test
    void handshakeFailuresAreNamedWhenACertificateWasTheReason() {
        SSLHandshakeException rejected = new SSLHandshakeException("certificate_unknown");
        rejected.initCause(new ClientCertificates.Rejected(new CertificateException("PKIX path building failed")));
        assertThat(ClientCertificates.failure(rejected)).isEqualTo(CloseReason.CLIENT_CERTIFICATE_REJECTED);
        // The JDK's engine and OpenSSL's say "missing" in their own words.
        assertThat(ClientCertificates.failure(new SSLHandshakeException("Empty client certificate chain")))
                .isEqualTo(CloseReason.CLIENT_CERTIFICATE_MISSING);
        assertThat(ClientCertificates.failure(new SSLHandshakeException(
                "error:1000045c:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE")))
                .isEqualTo(CloseReason.CLIENT_CERTIFICATE_MISSING);
        assertThat(ClientCertificates.failure(new SSLHandshakeException("no cipher suites in common"))).isNull();
        assertThat(ClientCertificates.failure(null)).isNull();
        // The one failure table agrees, whichever handler sees the failure; a backend's is not a client's.
        assertThat(CloseReasons.of(new DecoderException(rejected), CloseReasons.Leg.CLIENT))
                .isEqualTo(CloseReason.CLIENT_CERTIFICATE_REJECTED);
        assertThat(CloseReasons.of(new SSLHandshakeException("Empty client certificate chain"), CloseReasons.Leg.CLIENT))
                .isEqualTo(CloseReason.CLIENT_CERTIFICATE_MISSING);
        assertThat(CloseReasons.of(new DecoderException(rejected), CloseReasons.Leg.BACKEND))
                .isEqualTo(CloseReason.BACKEND_PROTOCOL_ERROR);
        assertThat(CloseReasons.of(new SSLHandshakeException("bad record"), CloseReasons.Leg.CLIENT))
                .isEqualTo(CloseReason.TLS_HANDSHAKE_FAILED);
    }

    @Test
    void subjectsAreHeaderSafeRfc2253() {
        assertThat(ClientCertificates.headerSafe("CN=alice,O=Example")).isEqualTo("CN=alice,O=Example");
        assertThat(ClientCertificates.headerSafe("CN=J\u00fcrgen\r\nX-Evil: 1"))
                .isEqualTo("CN=J\\C3\\BCrgen\\0D\\0AX-Evil: 1");
        assertThat(ClientCertificates.headerSafe("CN=\uD83D\uDE00")).isEqualTo("CN=\\F0\\9F\\98\\80");
    }
}
