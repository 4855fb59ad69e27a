package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.LogCapture;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLSocket;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Live certificate updates with real clients: a rotation is served to the next handshake
 * ({@code openssl s_client} sees the new serial) while a connection made before keeps working;
 * the file watcher picks up a Kubernetes-style symlink swap, ignores a corrupt file with one WARN
 * line and picks up the fix; a bad update changes nothing; {@code certificates()} reports serial,
 * validity and days left.
 */
class CertificateRotationTest {
    private static final String NAME = "rot.test";
    private static final TestPki PKI = TestPki.shared();
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", Pattern.DOTALL);

    @TempDir
    Path dir;
    private final Closer closer = new Closer();
    private HttpEchoServer backend;

    @BeforeEach
    void backend() throws Exception {
        backend = closer.keep(new HttpEchoServer("backend"));
    }

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    private SmartProxy.Builder terminating(CertificateSource certificate) {
        return SmartProxy.builder().certificate(certificate)
                .route(Route.named("site").match(m -> m.ports(443).domains(NAME))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE)));
    }

    private static CertificateSource pem(X509Bundle b) {
        return CertificateSource.pem(b.getCertificatePathPEM(), b.getPrivateKeyPEM());
    }

    @Test
    void aRotatedCertificateIsServedToTheNextHandshakeAndAConnectionMadeBeforeKeepsWorking() throws Exception {
        X509Bundle a = PKI.issue(NAME);
        X509Bundle b = PKI.issue(NAME);
        assertThat(serial(b)).isNotEqualTo(serial(a));
        SmartProxy proxy = closer.keep(Proxies.start(terminating(pem(a)), 443));
        int port = Proxies.port(proxy, 443);

        SSLSocket before = closer.keep(TlsClients.connect(port, NAME));
        assertThat(peerSerial(before)).isEqualTo(serial(a));
        assertThat(get(before)).contains("server=backend");
        assertThat(opensslSerial(port)).isEqualTo(serial(a));

        proxy.updateCertificates(List.of(pem(b)), null);

        assertThat(opensslSerial(port)).as("openssl s_client, after the update").isEqualTo(serial(b));
        try (SSLSocket after = TlsClients.connect(port, NAME)) {
            assertThat(peerSerial(after)).isEqualTo(serial(b));
            assertThat(get(after)).contains("server=backend");
        }
        // The connection made before the update: same session, still served.
        assertThat(get(before)).contains("server=backend");
        assertThat(peerSerial(before)).isEqualTo(serial(a));
        assertThat(proxy.certificates()).singleElement().satisfies(c -> {
            assertThat(c.serial()).isEqualTo(hex(serial(b)));
            assertThat(new BigInteger(c.serial(), 16)).isEqualTo(serial(b));
        });
    }

    @Test
    void watchPicksUpASymlinkSwapIgnoresACorruptFileWithOneWarnLineAndPicksUpTheFix() throws Exception {
        X509Bundle a = PKI.issue(NAME);
        X509Bundle b = PKI.issue(NAME);
        X509Bundle c = PKI.issue(NAME);
        // Kubernetes mounts a secret as name -> ..data/name, ..data -> ..<timestamp>, and updates it
        // by swapping ..data in one rename: the watched path itself never changes.
        Path crt = dir.resolve("tls.crt");
        Path key = dir.resolve("tls.key");
        swapIn(1, a.getCertificatePathPEM(), a.getPrivateKeyPEM());
        Files.createSymbolicLink(crt, Path.of("..data", "tls.crt"));
        Files.createSymbolicLink(key, Path.of("..data", "tls.key"));

        try (LogCapture log = LogCapture.start()) {
            SmartProxy proxy = closer.keep(Proxies.start(terminating(CertificateSource.pemFiles(crt, key))
                    .watchCertificates(Duration.ofMillis(200)), 443));
            int port = Proxies.port(proxy, 443);
            assertThat(servedSerial(port)).isEqualTo(serial(a));

            swapIn(2, b.getCertificatePathPEM(), b.getPrivateKeyPEM());
            Await.until("the swapped-in certificate is served", () -> servedSerial(port).equals(serial(b)));
            assertThat(proxy.certificates().get(0).serial()).isEqualTo(hex(serial(b)));
            assertThat(log.lines("INFO", "certificates updated (files changed)", hex(serial(b)))).hasSize(1);

            swapIn(3, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
                    b.getPrivateKeyPEM());
            Await.until("one WARN line for the corrupt file", () -> !log.lines("WARN", crt.toString(), "cannot be used").isEmpty());
            assertThat(log.lines("WARN", crt.toString(), "cannot be used").get(0)).contains("cannot be used")
                    .contains("the certificate loaded before stays");
            assertThat(servedSerial(port)).as("the old certificate is still served").isEqualTo(serial(b));
            assertThat(proxy.certificates().get(0).serial()).isEqualTo(hex(serial(b)));

            swapIn(4, c.getCertificatePathPEM(), c.getPrivateKeyPEM());
            Await.until("the fixed files are picked up", () -> servedSerial(port).equals(serial(c)));
            assertThat(log.lines("WARN", crt.toString(), "cannot be used")).as("one line for the corrupt file, not one per poll")
                    .hasSize(1);
            assertThat(log.lines("\tat ")).as("no stack trace").isEmpty();
        }
    }

    /** Writes the pair into a new directory and points {@code ..data} at it in one rename. */
    private void swapIn(int generation, String chainPem, String keyPem) throws IOException {
        Path data = Files.createDirectory(dir.resolve("..gen" + generation));
        Files.writeString(data.resolve("tls.crt"), chainPem);
        Files.writeString(data.resolve("tls.key"), keyPem);
        Path tmp = dir.resolve("..data_tmp");
        Files.createSymbolicLink(tmp, data.getFileName());
        Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void aBadUpdateThrowsNamingTheCertificateAndChangesNothing() throws Exception {
        X509Bundle a = PKI.issue(NAME);
        X509Bundle other = PKI.issue("other.test");
        SmartProxy proxy = closer.keep(Proxies.start(terminating(pem(a)), 443));
        int port = Proxies.port(proxy, 443);
        Path crt = Files.writeString(dir.resolve("other.crt"), other.getCertificatePathPEM());
        Path wrongKey = Files.writeString(dir.resolve("wrong.key"), a.getPrivateKeyPEM());

        assertThatThrownBy(() -> proxy.updateCertificates(List.of(pem(PKI.issue(NAME)),
                CertificateSource.pemFiles(crt, wrongKey)), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificates[1]: certificate " + crt)
                .hasMessageContaining("does not match");
        assertThat(servedSerial(port)).isEqualTo(serial(a));
        assertThat(proxy.certificates()).extracting(CertificateInfo::serial).containsExactly(hex(serial(a)));
        assertThatThrownBy(() -> proxy.updateCertificates(List.of(pem(a)), CertificateSource.pemFiles(crt, wrongKey)))
                .hasMessageStartingWith("defaultCertificate: certificate " + crt);
        assertThatThrownBy(() -> proxy.updateCertificates(java.util.Arrays.asList(pem(a), null), null))
                .hasMessage("certificates[1]: null (expected: a CertificateSource)");
        proxy.updateCertificates(List.of(pem(a), CertificateSource.sslContext(io.netty.handler.ssl.SslContextBuilder
                .forServer(a.getKeyPair().getPrivate(), a.getCertificatePath()).build(), "s.test")), null);
        assertThat(proxy.certificates().get(1)).satisfies(c -> {
            assertThat(c.serial()).as("an SslContext cannot be looked into").isEmpty();
            assertThat(c.domains()).containsExactly("s.test");
            assertThat(c.daysLeft()).isEqualTo(Long.MAX_VALUE);
        });
        proxy.updateCertificates(List.of(pem(a)), null);

        assertThatThrownBy(() -> proxy.updateCertificates(List.of(), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("updateCertificates: no certificate, but route 'site' tls: TERMINATE"
                        + " needs a certificate");
        assertThatCode(() -> proxy.updateCertificates(List.of(), pem(a).domains("x.y.test")))
                .as("a default certificate alone is a certificate").doesNotThrowAnyException();
        proxy.updateCertificates(List.of(pem(a)), null);
        assertThat(servedSerial(port)).isEqualTo(serial(a));

        proxy.close();
        assertThatThrownBy(() -> proxy.updateCertificates(List.of(pem(a)), null))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void anUpdateBeforeStartIsWhatStartServes() throws Exception {
        X509Bundle a = PKI.issue(NAME);
        X509Bundle b = PKI.issue(NAME);
        SmartProxy.Builder builder = terminating(pem(a));
        builder.listen(443, new java.net.InetSocketAddress("127.0.0.1", 0));
        SmartProxy proxy = closer.keep(builder.gracefulShutdownTimeout(Duration.ofMillis(200)).build());
        assertThat(proxy.certificates()).extracting(CertificateInfo::serial).containsExactly(hex(serial(a)));
        proxy.updateCertificates(List.of(pem(b)), null);
        assertThat(proxy.certificates()).extracting(CertificateInfo::serial).containsExactly(hex(serial(b)));
        proxy.start();
        assertThat(servedSerial(Proxies.port(proxy, 443))).isEqualTo(serial(b));
    }

    @Test
    void certificatesReportSerialValidityAndDaysLeftAndWarnWhenExpiringSoon() throws Exception {
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Instant notAfter = now.plus(Duration.ofDays(10).plusHours(1));
        X509Bundle soon = PKI.issue(NAME, now.minus(Duration.ofDays(80)), notAfter);
        X509Bundle fallback = PKI.issue("fallback.test", now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(30)));
        try (LogCapture log = LogCapture.start()) {
            SmartProxy proxy = closer.keep(Proxies.start(terminating(pem(soon)).defaultCertificate(pem(fallback)), 443));
            assertThat(log.lines("WARN", "serial " + hex(serial(soon)), "expires in 10 day(s)")).hasSize(1);
            assertThat(log.lines("WARN", hex(serial(fallback)))).isEmpty();

            List<CertificateInfo> infos = proxy.certificates();
            assertThat(infos).hasSize(2);
            CertificateInfo c = infos.get(0);
            assertThat(c.serial()).isEqualTo(hex(serial(soon)));
            assertThat(c.notAfter()).isEqualTo(notAfter);
            assertThat(c.notBefore()).isEqualTo(now.minus(Duration.ofDays(80)));
            assertThat(c.subject()).isEqualTo("CN=" + NAME);
            assertThat(c.issuer()).isEqualTo("CN=SmartProxy Test CA");
            assertThat(c.domains()).containsExactly(NAME, "x." + NAME);
            assertThat(c.source()).isEqualTo("certificate <PEM text>");
            assertThat(c.isDefault()).isFalse();
            assertThat(c.daysLeft(Clock.fixed(now, ZoneOffset.UTC))).isEqualTo(10);
            assertThat(c.daysLeft(Clock.fixed(notAfter.minusSeconds(1), ZoneOffset.UTC))).isZero();
            assertThat(c.daysLeft(Clock.fixed(notAfter.plusSeconds(1), ZoneOffset.UTC))).isEqualTo(-1);
            assertThat(c.daysLeft()).isBetween(9L, 10L);
            assertThat(c.isValid(Clock.fixed(now, ZoneOffset.UTC))).isTrue();
            assertThat(c.isValid(Clock.fixed(notAfter.plusSeconds(1), ZoneOffset.UTC))).isFalse();
            assertThat(infos.get(1).isDefault()).isTrue();
            assertThat(infos.get(1).serial()).isEqualTo(hex(serial(fallback)));

            // Updates that keep the expiring certificate do not warn about it again; each logs one INFO line.
            log.clear();
            proxy.updateCertificates(List.of(pem(soon)), pem(fallback));
            proxy.updateCertificates(List.of(pem(soon)), null);
            assertThat(log.lines("WARN", "expires in")).isEmpty();
            assertThat(log.lines("INFO", "certificates updated (updateCertificates)", hex(serial(soon)))).hasSize(2);
            assertThat(proxy.certificates()).hasSize(1);
        }
    }

    @Test
    void watchCertificatesIsValidated() {
        SmartProxy.Builder b = SmartProxy.builder();
        assertThatThrownBy(() -> b.watchCertificates(Duration.ofMillis(99)))
                .hasMessage("watchCertificates: 99ms (expected: Duration.ZERO to disable, or 100ms to 1d)");
        assertThatThrownBy(() -> b.watchCertificates(Duration.ofDays(2)))
                .hasMessageStartingWith("watchCertificates: 2d (expected:");
        assertThatThrownBy(() -> b.watchCertificates(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        b.watchCertificates(Duration.ZERO).watchCertificates(Duration.ofMillis(100)).watchCertificates(Duration.ofDays(1));
    }

    private static BigInteger serial(X509Bundle b) {
        return b.getCertificate().getSerialNumber();
    }

    private static String hex(BigInteger serial) {
        String h = serial.toString(16).toUpperCase(Locale.ROOT);
        return h.length() % 2 == 0 ? h : "0" + h;
    }

    private static BigInteger peerSerial(SSLSocket s) throws IOException {
        return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    /** The serial a new JDK handshake is served. */
    private static BigInteger servedSerial(int port) {
        try (SSLSocket s = TlsClients.connect(port, NAME)) {
            return peerSerial(s);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The serial of the leaf {@code openssl s_client -showcerts} is served. */
    private static BigInteger opensslSerial(int port) throws Exception {
        Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", NAME,
                "-showcerts").redirectErrorStream(true).start();
        p.getOutputStream().close();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("openssl finished").isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Matcher m = PEM.matcher(out);
        assertThat(m.find()).as("a certificate in the openssl output:%n%s", out).isTrue();
        X509Certificate leaf = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(m.group().getBytes(StandardCharsets.US_ASCII)));
        return leaf.getSerialNumber();
    }

    /** One keep-alive GET on {@code s}; returns the body. */
    private static String get(SSLSocket s) throws IOException {
        s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + NAME + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("closed after " + head);
            }
            head.write(c);
        }
        String h = head.toString(StandardCharsets.US_ASCII);
        assertThat(h).startsWith("HTTP/1.1 200");
        Matcher len = Pattern.compile("(?i)content-length: *(\\d+)").matcher(h);
        assertThat(len.find()).isTrue();
        return new String(in.readNBytes(Integer.parseInt(len.group(1))), StandardCharsets.UTF_8);
    }
}
