package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ClientAuth;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Client certificates (mutual TLS) on terminated routes with real clients: the JDK's
 * {@code SSLSocket} and {@code HttpClient} with a key manager, and {@code openssl s_client -cert};
 * the subject header reaching the backend and a forged one never; and the Host-bypass attempt
 * answered 421 with nothing forwarded.
 */
class ClientCertificateTest {
    private static final X509Bundle CLIENTS_CA = ca("CN=Clients CA");
    private static final X509Bundle ROGUE_CA = ca("CN=Rogue CA");
    private static final X509Bundle ALICE = client("CN=alice,O=Example", CLIENTS_CA);
    private static final X509Bundle MALLORY = client("CN=mallory,O=Example", ROGUE_CA);

    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private HttpEchoServer admin;
    private HttpEchoServer optional;
    private HttpEchoServer open;
    private SmartProxy proxy;
    private int port;

    @BeforeEach
    void start() throws Exception {
        admin = closer.keep(new HttpEchoServer("admin"));
        optional = closer.keep(new HttpEchoServer("optional"));
        open = closer.keep(new HttpEchoServer("public"));
        ClientAuth required = ClientAuth.pem(ClientAuth.Mode.REQUIRED, CLIENTS_CA.getCertificatePEM())
                .subjectHeader("X-Client-Subject");
        ClientAuth wanted = ClientAuth.pem(ClientAuth.Mode.OPTIONAL, CLIENTS_CA.getCertificatePEM())
                .subjectHeader("X-Client-Subject");
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("admin.test").clientAuth(required))
                .certificate(TestPki.certificate("a.test").clientAuth(required))
                .certificate(TestPki.certificate("opt.test").clientAuth(wanted))
                .certificate(TestPki.certificate("public.test"))
                .route(forward("admin", admin, "admin.test", "a.test"))
                .route(forward("optional", optional, "opt.test"))
                .route(forward("public", open, "public.test")), 443));
        port = Proxies.port(proxy, 443);
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private static Route.Builder forward(String name, HttpEchoServer backend, String... domains) {
        return Route.named(name).match(m -> m.ports(443).domains(domains))
                .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.TERMINATE));
    }

    @Test
    void aVerifiedClientReachesTheRequiredRouteWithItsSubjectAndNeverAForgedOne() throws Exception {
        try (SSLSocket s = connect("admin.test", ALICE)) {
            String r = get(s, "admin.test", "X-Client-Subject: CN=root\r\nX_Client_Subject: CN=root\r\n"
                    + "Connection: X-Client-Subject\r\n");
            assertThat(r).startsWith("HTTP/1.1 200").contains("server=admin", "x-client-subject=CN=alice,O=Example")
                    .doesNotContain("CN=root", "x_client_subject");
        }
        assertThat(admin.requests()).isEqualTo(1);
    }

    @Test
    void withoutACertificateTheRequiredRouteEndsTheHandshake() throws Exception {
        assertRefused("admin.test", null, CloseReason.CLIENT_CERTIFICATE_MISSING);
    }

    @Test
    void aCertificateFromAnotherCaIsRejectedInTheHandshake() throws Exception {
        assertRefused("admin.test", MALLORY, CloseReason.CLIENT_CERTIFICATE_REJECTED);
        // The optional route refuses an unverifiable certificate too: optional means "may be absent".
        assertRefused("opt.test", MALLORY, CloseReason.CLIENT_CERTIFICATE_REJECTED);
        assertThat(optional.requests()).isZero();
        assertThat(proxy.stats().closed(CloseReason.CLIENT_CERTIFICATE_REJECTED)).isEqualTo(2);
    }

    @Test
    void theOptionalRouteServesClientsWithAndWithoutACertificate() throws Exception {
        try (SSLSocket s = connect("opt.test", null)) {
            String r = get(s, "opt.test", "X-Client-Subject: CN=root\r\n");
            assertThat(r).startsWith("HTTP/1.1 200").contains("server=optional").doesNotContain("x-client-subject");
        }
        try (SSLSocket s = connect("opt.test", ALICE)) {
            assertThat(get(s, "opt.test", "")).startsWith("HTTP/1.1 200")
                    .contains("x-client-subject=CN=alice,O=Example");
        }
    }

    @Test
    void aForgedSubjectHeaderIsRemovedOnConnectionsWithoutClientAuthentication() throws Exception {
        try (SSLSocket s = connect("public.test", ALICE)) { // no certificate is asked for: none is sent
            String r = get(s, "public.test", "x-client-subject: CN=root\r\n");
            assertThat(r).startsWith("HTTP/1.1 200").contains("server=public").doesNotContain("x-client-subject");
        }
    }

    @Test
    void theHostHeaderCannotBypassTheClientCertificateOfAnotherName() throws Exception {
        try (SSLSocket s = connect("public.test", null)) {
            String r = get(s, "admin.test", "");
            assertThat(r).startsWith("HTTP/1.1 421");
            // The connection stays usable for the names its certificate serves.
            assertThat(get(s, "public.test", "")).startsWith("HTTP/1.1 200").contains("server=public");
            // A Host that passed before does not let another through on the same connection.
            assertThat(get(s, "admin.test", "")).startsWith("HTTP/1.1 421");
            assertThat(get(s, "public.test", "")).startsWith("HTTP/1.1 200").contains("server=public");
        }
        // Under a required certificate, a Host of a name without one is misdirected just the same.
        try (SSLSocket s = connect("admin.test", ALICE)) {
            assertThat(get(s, "public.test", "")).startsWith("HTTP/1.1 421");
        }
        // Names served by the same certificate share one handshake: a.test and admin.test differ
        // in certificate here, so this is misdirected too.
        try (SSLSocket s = connect("admin.test", ALICE)) {
            assertThat(get(s, "a.test", "")).startsWith("HTTP/1.1 421");
        }
        assertThat(admin.requests()).isZero();
        assertThat(open.requests()).isEqualTo(2);
    }

    @Test
    void theJdkHttpClientWithAKeyManagerReachesTheRequiredRoute() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(ALICE.toKeyManagerFactory().getKeyManagers(),
                TestPki.shared().ca().toTrustManagerFactory().getTrustManagers(), null);
        HttpClient client = HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://a.test:" + port + "/x"))
                .header("X-Client-Subject", "CN=root").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("server=admin", "x-client-subject=CN=alice,O=Example").doesNotContain("CN=root");
    }

    @Test
    void opensslWithAndWithoutAClientCertificate(@TempDir Path dir) throws Exception {
        Path cert = Files.writeString(dir.resolve("alice.pem"), ALICE.getCertificatePEM());
        Path key = Files.writeString(dir.resolve("alice.key"), ALICE.getPrivateKeyPEM());
        Path ca = Files.writeString(dir.resolve("ca.pem"), TestPki.shared().ca().getCertificatePEM());

        String withCert = openssl(ca, "admin.test", "-cert", cert.toString(), "-key", key.toString());
        assertThat(withCert).contains("HTTP/1.1 200", "server=admin", "x-client-subject=CN=alice,O=Example");

        String without = openssl(ca, "admin.test");
        assertThat(without).doesNotContain("HTTP/1.1 200");
        assertThat(admin.requests()).isEqualTo(1);
        assertThat(events.awaitClosed(2).stream().map(c -> c.closeReason().orElse(null)))
                .contains(CloseReason.CLIENT_CERTIFICATE_MISSING);

        String optionalWithout = openssl(ca, "opt.test");
        assertThat(optionalWithout).contains("HTTP/1.1 200", "server=optional").doesNotContain("x-client-subject");
    }

    @Test
    void aNameDeeperThanAClientAuthenticatingWildcardCannotReachItsRouteThroughTheDefaultCertificate() throws Exception {
        HttpEchoServer secure = closer.keep(new HttpEchoServer("secure"));
        ClientAuth required = ClientAuth.pem(ClientAuth.Mode.REQUIRED, CLIENTS_CA.getCertificatePEM());
        SmartProxy wildcard = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(TestPki.certificate("secure.test").domains("secure.test", "*.secure.test")
                        .clientAuth(required))
                .defaultCertificate(TestPki.certificate("fallback.test"))
                // the route takes any depth; the certificate's wildcard covers one label only
                .route(forward("secure", secure, "*.secure.test")), 443));
        port = Proxies.port(wildcard, 443);
        // a.b.secure.test: the default certificate is presented, and it asks for no client certificate
        try (SSLSocket s = connect("a.b.secure.test", null)) {
            assertThat(get(s, "a.b.secure.test", "")).startsWith("HTTP/1.1 421");
        }
        assertThat(secure.requests()).as("nothing reached the protected backend").isZero();
        // The name the certificate does cover still needs its client certificate, and gets through with one.
        try (SSLSocket s = connect("x.secure.test", ALICE)) {
            assertThat(get(s, "x.secure.test", "")).startsWith("HTTP/1.1 200").contains("server=secure");
        }
    }

    // ---- helpers ----

    private void assertRefused(String sni, X509Bundle clientCert, CloseReason reason) throws Exception {
        int before = events.closed().size();
        boolean served;
        try (SSLSocket s = connect(sni, clientCert)) {
            served = get(s, sni, "").startsWith("HTTP/1.1 200");
        } catch (IOException e) {
            served = false; // the alert: in the handshake (TLS 1.2) or at the first read (TLS 1.3)
        }
        assertThat(served).isFalse();
        ConnectionInfo closed = events.awaitClosed(before + 1).get(before);
        assertThat(closed.closeReason()).contains(reason);
    }

    /** A TLS connection with SNI {@code sni}, presenting {@code clientCert} when asked (null: none). */
    private SSLSocket connect(String sni, X509Bundle clientCert) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(clientCert == null ? null : new KeyManager[] {new AnyIssuer(
                        (X509ExtendedKeyManager) clientCert.toKeyManagerFactory().getKeyManagers()[0])},
                TestPki.shared().ca().toTrustManagerFactory().getTrustManagers(), null);
        Socket raw = new Socket();
        raw.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        raw.setSoTimeout(20_000);
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, sni, port, true);
        SSLParameters params = s.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(sni)));
        s.setSSLParameters(params);
        s.startHandshake();
        return s;
    }

    /** Sends one GET and reads one response (Content-Length framed, as the proxy and echo answer). */
    private static String get(SSLSocket s, String host, String headers) throws IOException {
        s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\n" + headers + "\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        String line;
        int length = 0;
        while ((line = TlsClients.readLine(in)) != null && !line.equals("\r") && !line.isEmpty()) {
            head.append(line).append('\n');
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        if (line == null) {
            return head.toString();
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (int i = 0; i < length; i++) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            body.write(b);
        }
        return head + "\n" + body.toString(StandardCharsets.UTF_8);
    }

    /**
     * Presents its certificate whatever CAs the server names (the JDK's own key manager sends
     * none when its issuer is not named, which would make every foreign certificate "missing").
     */
    private static final class AnyIssuer extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager km;

        AnyIssuer(X509ExtendedKeyManager km) {
            this.km = km;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return km.getClientAliases(keyType, null);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return km.chooseClientAlias(keyType, null, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return km.chooseEngineClientAlias(keyType, null, engine);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return km.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return km.getPrivateKey(alias);
        }
    }

    private String openssl(Path ca, String sni, String... extra) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port,
                "-servername", sni, "-CAfile", ca.toString(), "-verify_return_error", "-ign_eof", "-quiet"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + sni + "\r\nX-Client-Subject: CN=root\r\n"
                + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("openssl finished").isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    private static X509Bundle ca(String subject) {
        try {
            Instant now = Instant.now();
            return new CertificateBuilder().subject(subject).setIsCertificateAuthority(true)
                    .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                    .ecp256().buildSelfSigned();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Bundle client(String subject, X509Bundle issuer) {
        try {
            Instant now = Instant.now();
            return new CertificateBuilder().subject(subject)
                    .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                    .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                    .addExtendedKeyUsageClientAuth().ecp256().buildIssuedBy(issuer);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
