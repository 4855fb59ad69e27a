package dev.smartproxy.config;

import dev.smartproxy.testing.TestPki;
import io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClientAuthTest {
    private static final String CA_PEM = TestPki.shared().ca().getCertificatePEM();

    @TempDir
    Path dir;

    @Test
    void defaultsToNoneWithoutHeaderOrCas() {
        ClientAuth none = TestPki.certificate("a.test").clientAuth();
        assertThat(none.mode()).isEqualTo(ClientAuth.Mode.NONE);
        assertThat(none.subjectHeader()).isEmpty();
        assertThat(none.trustedCertificates()).isEmpty();
    }

    @Test
    void theCaFileIsReadWhenFirstNeeded() throws Exception {
        Path ca = dir.resolve("clients-ca.pem");
        ClientAuth required = ClientAuth.required(ca).subjectHeader("X-Client-Subject");
        assertThat(required.toString()).contains("required", "clients-ca.pem", "X-Client-Subject");
        assertThatThrownBy(required::trustedCertificates).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("client CA " + ca + ": no such file (expected: an existing, readable PEM file)");
        Files.writeString(ca, CA_PEM);
        assertThat(required.trustedCertificates()).hasSize(1);
        assertThat(ClientAuth.optional(ca).mode()).isEqualTo(ClientAuth.Mode.OPTIONAL);
    }

    @Test
    void aCaFileWithoutCertificatesIsRefused() throws Exception {
        Path ca = Files.writeString(dir.resolve("empty.pem"), "nothing here");
        assertThatThrownBy(() -> ClientAuth.optional(ca).trustedCertificates())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no certificate found (expected:");
        assertThatThrownBy(() -> ClientAuth.pem(ClientAuth.Mode.REQUIRED, "nothing"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no certificate found (expected:");
    }

    @Test
    void pemTextNeedsAModeThatAsksForACertificate() {
        assertThatThrownBy(() -> ClientAuth.pem(ClientAuth.Mode.NONE, CA_PEM))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("clientAuth mode: NONE (expected: OPTIONAL or REQUIRED");
        assertThat(ClientAuth.pem(ClientAuth.Mode.REQUIRED, CA_PEM).trustedCertificates()).hasSize(1);
    }

    @Test
    void subjectHeaderValidation() {
        ClientAuth a = ClientAuth.pem(ClientAuth.Mode.REQUIRED, CA_PEM);
        assertThat(a.subjectHeader("X-Client-Subject").subjectHeader()).contains("X-Client-Subject");
        assertThatThrownBy(() -> ClientAuth.none().subjectHeader("X-Client-Subject"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("subjectHeader: X-Client-Subject on ClientAuth.none() (expected:"
                        + " ClientAuth.optional(...) or ClientAuth.required(...))");
        assertThatThrownBy(() -> a.subjectHeader("X Client"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("subjectHeader: 'X Client' (expected: an HTTP header name");
        assertThatThrownBy(() -> a.subjectHeader(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("subjectHeader: '' (expected:");
        for (String reserved : new String[] {"Host", "X-Forwarded-For", "x_forwarded_proto", "Forwarded",
                "Connection", "Transfer-Encoding", "Authorization"}) {
            assertThatThrownBy(() -> a.subjectHeader(reserved)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("subjectHeader: " + reserved + " (expected: a header the proxy does not manage,"
                            + " e.g. X-Client-Subject)");
        }
    }

    @Test
    void aCertificateCarriesItsClientAuthThroughDomainCopies() {
        ClientAuth required = ClientAuth.pem(ClientAuth.Mode.REQUIRED, CA_PEM);
        CertificateSource s = TestPki.certificate("a.test").clientAuth(required).domains("b.test");
        assertThat(s.clientAuth()).isSameAs(required);
        assertThat(s.domains()).containsExactly("b.test");
        assertThat(s.toString()).contains("ClientAuth[required");
    }

    @Test
    void aUserSslContextCannotTakeClientAuth() throws Exception {
        CertificateSource s = CertificateSource.sslContext(SslContextBuilder.forServer(
                TestPki.shared().leaf("a.test").toKeyManagerFactory()).build(), "a.test");
        assertThat(s.clientAuth(ClientAuth.none()).clientAuth().mode()).isEqualTo(ClientAuth.Mode.NONE);
        assertThatThrownBy(() -> s.clientAuth(ClientAuth.pem(ClientAuth.Mode.OPTIONAL, CA_PEM)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(expected: a key and certificate source; configure client authentication"
                        + " in your own SslContext)");
    }
}
