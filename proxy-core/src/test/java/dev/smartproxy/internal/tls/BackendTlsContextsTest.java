package dev.smartproxy.internal.tls;

import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.testing.TestPki;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackendTlsContextsTest {
    private static final TestPki PKI = TestPki.shared();
    private static EventLoopGroup group;
    /** A backend presenting backend.test (and x.backend.test) for any SNI, signed by the test CA. */
    private static CertificateStore trustedBackend;
    /** A backend presenting backend.test signed by a CA nobody trusts. */
    private static CertificateStore untrustedBackend;

    @BeforeAll
    static void setUp() throws Exception {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        trustedBackend = CertificateStore.of(List.of(), CertificateStoreTest.source(PKI.leaf("backend.test")));
        Instant now = Instant.now();
        X509Bundle rogueCa = new CertificateBuilder().subject("CN=Rogue CA").setIsCertificateAuthority(true)
                .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .ecp256().buildSelfSigned();
        X509Bundle rogueLeaf = new CertificateBuilder().subject("CN=backend.test").addSanDnsName("backend.test")
                .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(rogueCa);
        untrustedBackend = CertificateStore.of(List.of(), CertificateStoreTest.source(rogueLeaf));
    }

    @AfterAll
    static void tearDown() {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static BackendTls trustTestCa() {
        return BackendTls.trustPem(PKI.ca().getCertificatePEM());
    }

    /** Connects to the backend on 127.0.0.1, using {@code targetHost} for SNI and verification. */
    private static SslHandler connect(CertificateStoreTest.SniServer server, BackendTls cfg, String targetHost)
            throws Exception {
        SslContext ctx = BackendTlsContexts.clientContext(cfg);
        AtomicReference<SslHandler> handler = new AtomicReference<>();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        SslHandler h = BackendTlsContexts.newHandler(ctx, cfg, c.alloc(), targetHost, server.port());
                        handler.set(h);
                        c.pipeline().addLast(h, new io.netty.channel.ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(io.netty.channel.ChannelHandlerContext x, Throwable cause) {
                                x.close(); // the handshake future carries the failure
                            }
                        });
                    }
                })
                .connect(InetAddress.getLoopbackAddress(), server.port()).sync().channel();
        try {
            SslHandler h = handler.get();
            assertThat(h.handshakeFuture().await(10, TimeUnit.SECONDS)).isTrue();
            if (!h.handshakeFuture().isSuccess()) {
                throw (Exception) h.handshakeFuture().cause();
            }
            return h;
        } finally {
            ch.close().sync();
        }
    }

    @Test
    void trustPemVerifiesATrustedBackendAndSendsTheTargetHostAsSni() throws Exception {
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, trustedBackend)) {
            SslHandler h = connect(server, trustTestCa(), "backend.test");
            assertThat(h.applicationProtocol()).isEqualTo("http/1.1");
            assertThat(h.engine().getSession().getProtocol()).isEqualTo("TLSv1.3");
            assertThat(server.sniNames()).containsExactly("backend.test");
        }
    }

    @Test
    void trustPemRejectsAnUntrustedBackend() throws Exception {
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, untrustedBackend)) {
            assertThatThrownBy(() -> connect(server, trustTestCa(), "backend.test"))
                    .isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void systemTrustRejectsTheTestCa() throws Exception {
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, trustedBackend)) {
            assertThatThrownBy(() -> connect(server, BackendTls.systemTrust(), "backend.test"))
                    .isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void hostnameVerificationRejectsACertificateForAnotherName() throws Exception {
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, trustedBackend)) {
            assertThatThrownBy(() -> connect(server, trustTestCa(), "other.test"))
                    .isInstanceOf(SSLHandshakeException.class)
                    .hasStackTraceContaining("other.test");
            // An IP literal target is verified against IP SANs: the test certificate has none.
            assertThatThrownBy(() -> connect(server, trustTestCa(), "127.0.0.1"))
                    .isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void sniOverrideIsSentAndVerifiedForAnIpTarget() throws Exception {
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, trustedBackend)) {
            connect(server, trustTestCa().sni("x.backend.test"), "127.0.0.1");
            assertThat(server.sniNames()).containsExactly("x.backend.test");
        }
    }

    @Test
    void insecureModeConnectsToAnUntrustedWronglyNamedBackendWithoutSniForAnIp() throws Exception {
        BackendTls insecure = BackendTls.insecureTrustAllForDevelopmentOnly();
        assertThat(insecure.insecure()).isTrue();
        assertThat(insecure.verifiesHostname()).isFalse();
        try (CertificateStoreTest.SniServer server = CertificateStoreTest.SniServer.start(group, untrustedBackend)) {
            assertThat(connect(server, insecure, "other.test").isSharable()).isFalse();
            connect(server, insecure, "127.0.0.1");
            assertThat(server.sniNames()).containsExactly("other.test", "<none>");
        }
    }

    @Test
    void handlerParametersFollowTheRules() {
        SslContext ctx = BackendTlsContexts.clientContext(trustTestCa());
        assertThat(ctx.isClient()).isTrue();
        SSLParameters byName = BackendTlsContexts.newHandler(ctx, trustTestCa(), UnpooledByteBufAllocator.DEFAULT,
                "Backend.Test.", 443).engine().getSSLParameters();
        assertThat(byName.getServerNames()).containsExactly(new SNIHostName("backend.test"));
        assertThat(byName.getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");
        assertThat(byName.getProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        assertThat(byName.getApplicationProtocols()).containsExactly("http/1.1");

        for (String ip : List.of("10.0.0.1", "::1", "[::1]")) {
            assertThat(BackendTlsContexts.newHandler(ctx, trustTestCa(), UnpooledByteBufAllocator.DEFAULT, ip, 443)
                    .engine().getSSLParameters().getServerNames()).as(ip).isEmpty();
        }
        assertThat(BackendTlsContexts.newHandler(ctx, trustTestCa().sni("api.test"), UnpooledByteBufAllocator.DEFAULT,
                "10.0.0.1", 443).engine().getSSLParameters().getServerNames())
                .containsExactly(new SNIHostName("api.test"));
        // A name the JDK refuses as SNI is not sent, rather than failing the connection.
        assertThat(BackendTlsContexts.newHandler(ctx, trustTestCa(), UnpooledByteBufAllocator.DEFAULT,
                "under_score.test", 443).engine().getSSLParameters().getServerNames()).isEmpty();

        BackendTls insecure = BackendTls.insecureTrustAllForDevelopmentOnly();
        SSLParameters off = BackendTlsContexts.newHandler(BackendTlsContexts.clientContext(insecure), insecure,
                UnpooledByteBufAllocator.DEFAULT, "backend.test", 443).engine().getSSLParameters();
        assertThat(off.getEndpointIdentificationAlgorithm()).isNull();
        assertThat(off.getServerNames()).containsExactly(new SNIHostName("backend.test"));
    }

    @Test
    void valuesAndAccessors(@TempDir Path dir) throws Exception {
        Path pem = dir.resolve("ca.pem");
        Files.writeString(pem, PKI.ca().getCertificatePEM());
        BackendTls fromFile = BackendTls.trustPem(pem);
        assertThat(fromFile.trustedCertificates()).containsExactly(PKI.ca().getCertificate());
        assertThat(fromFile.usesSystemTrust()).isFalse();
        assertThat(fromFile.verifiesHostname()).isTrue();
        assertThat(fromFile.sni()).isEmpty();
        assertThat(fromFile).isEqualTo(trustTestCa());
        assertThat(fromFile.sni("API.Test.").sni()).contains("api.test");
        assertThat(BackendTls.systemTrust().usesSystemTrust()).isTrue();
        assertThat(BackendTls.systemTrust().trustedCertificates()).isEmpty();
        assertThat(BackendTls.systemTrust().insecure()).isFalse();
        assertThat(BackendTls.insecureTrustAllForDevelopmentOnly().toString()).contains("INSECURE");
    }

    @Test
    void rejectsBadSniAndTrust(@TempDir Path dir) throws Exception {
        BackendTls tls = BackendTls.systemTrust();
        for (String bad : List.of("", "10.0.0.1", "::1", "*.example.com", "a b", "a..b")) {
            assertThatThrownBy(() -> tls.sni(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("sni: '" + bad + "' (expected: a host name such as backend.example.com;"
                            + " not an IP address or a wildcard)");
        }
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> BackendTls.trustPem(missing))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("trustPem " + missing + ": no such file (expected: an existing, readable PEM file)");
        assertThatThrownBy(() -> BackendTls.trustPem("no pem here"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("trustPem <PEM text>: no certificate found"
                        + " (expected: PEM text with -----BEGIN CERTIFICATE----- blocks)");
    }
}
