package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.ClientAuth;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import io.netty.handler.ssl.OpenSsl;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Client certificates on the OpenSSL (BoringSSL) engine, which SmartProxy uses when
 * netty-tcnative is on the class path, as it is here (proxy-core's own tests run on the JDK's):
 * {@code openssl s_client -cert} with a good, a foreign and no certificate, under TLS 1.2 and
 * 1.3, each refusal with its own reason; and the Host-bypass attempt answered 421.
 */
class OpenSslClientCertificateTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private HttpEchoServer admin;
    private int port;
    @TempDir
    Path dir;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(OpenSsl.isAvailable(), "netty-tcnative for this platform (the examples carry linux-x86_64)");
        admin = closer.keep(new HttpEchoServer("admin"));
        HttpEchoServer open = closer.keep(new HttpEchoServer("public"));
        X509Bundle clientsCa = ca("CN=Clients CA");
        write("alice", client("CN=alice,O=Example", clientsCa));
        write("mallory", client("CN=mallory", ca("CN=Rogue CA")));
        Files.writeString(dir.resolve("ca.pem"), TestPki.shared().ca().getCertificatePEM());
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("admin.test").clientAuth(ClientAuth.pem(ClientAuth.Mode.REQUIRED,
                        clientsCa.getCertificatePEM()).subjectHeader("X-Client-Subject")))
                .certificate(TestPki.certificate("public.test"))
                .route(Route.named("admin").match(m -> m.ports(443).domains("admin.test"))
                        .forward(f -> f.target("127.0.0.1", admin.port()).tls(TlsMode.TERMINATE)))
                .route(Route.named("public").match(m -> m.ports(443).domains("public.test"))
                        .forward(f -> f.target("127.0.0.1", open.port()).tls(TlsMode.TERMINATE))), 443));
        port = Proxies.port(proxy, 443);
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"-tls1_2", "-tls1_3"})
    void requiredClientCertificates(String version) throws Exception {
        assertThat(openssl(version, "admin.test", "admin.test", "alice"))
                .contains("HTTP/1.1 200", "server=admin", "x-client-subject=CN=alice,O=Example")
                .doesNotContain("CN=root");
        assertThat(openssl(version, "admin.test", "admin.test", null)).doesNotContain("HTTP/1.1");
        assertThat(events.awaitClosed(2).get(1).closeReason()).contains(CloseReason.CLIENT_CERTIFICATE_MISSING);
        assertThat(openssl(version, "admin.test", "admin.test", "mallory")).doesNotContain("HTTP/1.1");
        assertThat(events.awaitClosed(3).get(2).closeReason()).contains(CloseReason.CLIENT_CERTIFICATE_REJECTED);
        assertThat(openssl(version, "public.test", "admin.test", null)).contains("HTTP/1.1 421")
                .doesNotContain("server=admin");
        assertThat(admin.requests()).isEqualTo(1);
    }

    private String openssl(String version, String sni, String host, String cert) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl", "s_client", version, "-connect", "127.0.0.1:" + port,
                "-servername", sni, "-CAfile", dir.resolve("ca.pem").toString(), "-verify_return_error", "-quiet"));
        if (cert != null) {
            cmd.addAll(List.of("-cert", dir.resolve(cert + ".pem").toString(), "-key",
                    dir.resolve(cert + ".key").toString()));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nX-Client-Subject: CN=root\r\n"
                + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("openssl finished").isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    private void write(String name, X509Bundle b) throws Exception {
        Files.writeString(dir.resolve(name + ".pem"), b.getCertificatePEM());
        Files.writeString(dir.resolve(name + ".key"), b.getPrivateKeyPEM());
    }

    private static X509Bundle ca(String subject) throws Exception {
        Instant now = Instant.now();
        return new CertificateBuilder().subject(subject).setIsCertificateAuthority(true)
                .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .ecp256().buildSelfSigned();
    }

    private static X509Bundle client(String subject, X509Bundle issuer) throws Exception {
        Instant now = Instant.now();
        return new CertificateBuilder().subject(subject)
                .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                .addExtendedKeyUsageClientAuth().ecp256().buildIssuedBy(issuer);
    }
}
