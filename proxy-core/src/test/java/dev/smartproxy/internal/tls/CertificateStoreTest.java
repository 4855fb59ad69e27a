package dev.smartproxy.internal.tls;

import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.testing.TestPki;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import io.netty.util.Mapping;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CertificateStoreTest {
    private static final TestPki PKI = TestPki.shared();
    private static EventLoopGroup group;

    private static CertificateSource a;
    private static CertificateSource b;
    private static CertificateSource wild;
    private static CertificateSource fallback;

    @BeforeAll
    static void setUp() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        a = source(PKI.leaf("a.test"));                       // a.test, x.a.test
        b = source(PKI.leaf("b.test"));                       // b.test, x.b.test
        // pkitesting 4.2.18 rejects addSanDnsName("*.wild.test"): a wildcard CN without SANs instead.
        wild = source(issue("CN=*.wild.test"));
        fallback = source(PKI.leaf("default.test"));
    }

    @AfterAll
    static void tearDown() {
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    static CertificateSource source(X509Bundle bundle) {
        return CertificateSource.pem(bundle.getCertificatePathPEM(), bundle.getPrivateKeyPEM());
    }

    /** A server certificate issued by the shared test CA with {@code subject} and no subjectAltName. */
    static X509Bundle issue(String subject) {
        try {
            Instant now = Instant.now();
            return new CertificateBuilder().subject(subject)
                    .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                    .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                    .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(PKI.ca());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate leafOf(CertificateSource s) {
        return s.certificateChain().get(0);
    }

    // ------------------------------------------------------------------ selection, no sockets

    @Test
    void exactNamesIgnoreCaseAndOneTrailingDot() {
        CertificateStore store = CertificateStore.of(List.of(a, b), null);
        SslContext ctxA = store.select("a.test");
        SslContext ctxB = store.select("b.test");
        assertThat(ctxA).isNotNull().isNotSameAs(ctxB);
        assertThat(store.select("A.TEST.")).isSameAs(ctxA);
        assertThat(store.select("x.b.test")).isSameAs(ctxB);
        assertThat(store.map("a.test")).isSameAs(ctxA);
    }

    @Test
    void wildcardCoversExactlyOneExtraLabel() {
        CertificateStore store = CertificateStore.of(List.of(wild), null);
        SslContext w = store.select("a.wild.test");
        assertThat(w).isNotNull();
        assertThat(store.select("Other.Wild.Test.")).isSameAs(w);
        assertThat(store.select("a.b.wild.test")).isNull();
        assertThat(store.select("wild.test")).isNull();
        assertThat(store.select(".wild.test")).isNull();
    }

    @Test
    void exactMatchBeatsWildcardWhateverTheOrder() {
        CertificateSource exactOne = a.domains("exact.wild.test");
        CertificateStore store = CertificateStore.of(List.of(wild, exactOne), null);
        assertThat(store.select("exact.wild.test")).isNotSameAs(store.select("other.wild.test"));
        assertThat(store.select("other.wild.test")).isNotNull();
    }

    @Test
    void unknownOrMissingNameGetsTheDefaultOrNothing() {
        CertificateStore withDefault = CertificateStore.of(List.of(a), fallback);
        assertThat(withDefault.select("nope.test")).isSameAs(withDefault.defaultContext()).isNotNull();
        assertThat(withDefault.select(null)).isSameAs(withDefault.defaultContext());
        assertThat(withDefault.select("")).isSameAs(withDefault.defaultContext());
        assertThat(withDefault.select("default.test")).isSameAs(withDefault.defaultContext());

        CertificateStore noDefault = CertificateStore.of(List.of(a), null);
        assertThat(noDefault.select("nope.test")).isNull();
        assertThat(noDefault.select(null)).isNull();
        assertThat(noDefault.defaultContext()).isNull();
    }

    @Test
    void firstSourceWinsASharedName() {
        CertificateSource first = a.domains("shared.test");
        CertificateSource second = b.domains("shared.test", "only-b.test");
        CertificateStore store = CertificateStore.of(List.of(first, second), null);
        assertThat(store.select("shared.test")).isNotSameAs(store.select("only-b.test"));
    }

    @Test
    void eachContextIsBuiltOnceAndUserContextsAreUsedAsIs() throws Exception {
        SslContext user = io.netty.handler.ssl.SslContextBuilder
                .forServer(PKI.leaf("user.test").toKeyManagerFactory()).build();
        CertificateStore store = CertificateStore.of(
                List.of(a, CertificateSource.sslContext(user, "user.test")), a);
        assertThat(store.select("user.test")).isSameAs(user);
        assertThat(store.select("x.a.test")).isSameAs(store.select("a.test")).isSameAs(store.defaultContext());
    }

    @Test
    void serverContextsOfferOnlyTls13And12AndAlpnHttp11() {
        SslContext ctx = CertificateStore.of(List.of(a), null).select("a.test");
        SSLEngine engine = ctx.newEngine(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT);
        assertThat(engine.getEnabledProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        assertThat(ctx.applicationProtocolNegotiator().protocols()).containsExactly("http/1.1");
        assertThat(ctx.isServer()).isTrue();
    }

    @Test
    void rejectsASourceWithoutDomainsButNotADefaultWithout() {
        CertificateSource nameless = source(issue("O=No Name"));
        assertThat(nameless.domains()).isEmpty();
        assertThatThrownBy(() -> CertificateStore.of(List.of(a, nameless), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificates[1]: certificate <PEM text> has no domains (expected: ");
        CertificateStore store = CertificateStore.of(List.of(a), nameless);
        assertThat(store.select("anything.test")).isNotNull().isSameAs(store.defaultContext());
    }

    // ------------------------------------------------------------------ real handshakes on loopback

    @Test
    void clientReceivesTheCertificateForItsSni() throws Exception {
        CertificateStore store = CertificateStore.of(List.of(a, b, wild), fallback);
        try (SniServer server = SniServer.start(group, store)) {
            assertThat(handshake(server.port(), "a.test").leaf).isEqualTo(leafOf(a));
            assertThat(handshake(server.port(), "X.B.TEST").leaf).isEqualTo(leafOf(b));
            assertThat(handshake(server.port(), "one.wild.test").leaf).isEqualTo(leafOf(wild));
            assertThat(handshake(server.port(), "two.one.wild.test").leaf).isEqualTo(leafOf(fallback));
            assertThat(handshake(server.port(), "unknown.test").leaf).isEqualTo(leafOf(fallback));
            assertThat(handshake(server.port(), null).leaf).isEqualTo(leafOf(fallback));
            assertThat(server.sniNames()).containsExactly("a.test", "x.b.test", "one.wild.test",
                    "two.one.wild.test", "unknown.test", "<none>");
        }
    }

    @Test
    void verifyingClientAcceptsTheSelectedCertificate() throws Exception {
        CertificateStore store = CertificateStore.of(List.of(a, wild), null);
        try (SniServer server = SniServer.start(group, store)) {
            // Endpoint identification on: the chain and the host name must both check out.
            Result r = handshake(server.port(), "one.wild.test", true, null);
            assertThat(r.leaf).isEqualTo(leafOf(wild));
            assertThat(handshake(server.port(), "a.test", true, null).leaf).isEqualTo(leafOf(a));
        }
    }

    @Test
    void handshakeFailsCleanlyWhenNothingMatchesAndThereIsNoDefault() throws Exception {
        CertificateStore store = CertificateStore.of(List.of(a), null);
        try (SniServer server = SniServer.start(group, store)) {
            assertThatThrownBy(() -> handshake(server.port(), "unknown.test")).isInstanceOf(IOException.class);
            assertThat(server.closed.poll(10, TimeUnit.SECONDS)).isEqualTo("closed");
            assertThatThrownBy(() -> handshake(server.port(), null)).isInstanceOf(IOException.class);
            assertThat(server.closed.poll(10, TimeUnit.SECONDS)).isEqualTo("closed");
            // The server still serves names it knows.
            assertThat(handshake(server.port(), "a.test").leaf).isEqualTo(leafOf(a));
        }
    }

    @Test
    void negotiatesAlpnHttp11AndTls13ByDefault() throws Exception {
        CertificateStore store = CertificateStore.of(List.of(a), null);
        try (SniServer server = SniServer.start(group, store)) {
            Result r = handshake(server.port(), "a.test", false, null, "h2", "http/1.1");
            assertThat(r.alpn).isEqualTo("http/1.1");
            assertThat(r.protocol).isEqualTo("TLSv1.3");
            Result noAlpn = handshake(server.port(), "a.test", false, null);
            assertThat(noAlpn.alpn).isEmpty();
        }
    }

    @Test
    void acceptsTls12AndRefusesTls11() throws Exception {
        CertificateStore store = CertificateStore.of(List.of(a), null);
        try (SniServer server = SniServer.start(group, store)) {
            assertThat(handshake(server.port(), "a.test", false, new String[] {"TLSv1.2"}).protocol)
                    .isEqualTo("TLSv1.2");
            assertThatThrownBy(() -> handshake(server.port(), "a.test", false, new String[] {"TLSv1.1"}))
                    .isInstanceOf(SSLException.class);
        }
    }

    // ------------------------------------------------------------------ helpers

    record Result(X509Certificate leaf, String alpn, String protocol) {
    }

    static Result handshake(int port, String sni) throws IOException {
        return handshake(port, sni, false, null);
    }

    /** A JDK client trusting the test CA: TLS handshake to 127.0.0.1:port sending {@code sni}. */
    static Result handshake(int port, String sni, boolean verifyHost, String[] protocols, String... alpn)
            throws IOException {
        SSLContext ctx = PKI.clientContext();
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            raw.setSoTimeout(10_000);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw,
                    sni == null ? "127.0.0.1" : sni, port, false)) {
                SSLParameters p = s.getSSLParameters();
                p.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
                p.setEndpointIdentificationAlgorithm(verifyHost ? "HTTPS" : null);
                if (protocols != null) {
                    p.setProtocols(protocols);
                }
                if (alpn.length > 0) {
                    p.setApplicationProtocols(alpn);
                }
                s.setSSLParameters(p);
                s.startHandshake();
                X509Certificate leaf = (X509Certificate) s.getSession().getPeerCertificates()[0];
                return new Result(leaf, s.getApplicationProtocol(), s.getSession().getProtocol());
            }
        }
    }

    /** A Netty server on 127.0.0.1:0 choosing its certificate with {@code SniHandler} over a mapping. */
    static final class SniServer implements AutoCloseable {
        private final Channel channel;
        private final BlockingQueue<String> sni = new LinkedBlockingQueue<>();
        final BlockingQueue<String> closed = new LinkedBlockingQueue<>();
        final BlockingQueue<Object> handshakes = new LinkedBlockingQueue<>();

        private SniServer(EventLoopGroup group, Mapping<String, SslContext> mapping) {
            channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.closeFuture().addListener(f -> closed.add("closed"));
                            ch.pipeline().addLast(new SniHandler(mapping), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                    if (evt instanceof SniCompletionEvent e) {
                                        sni.add(e.hostname() == null ? "<none>" : e.hostname());
                                    } else if (evt instanceof SslHandshakeCompletionEvent e) {
                                        handshakes.add(e.isSuccess() ? "ok" : e.cause());
                                    }
                                    ctx.fireUserEventTriggered(evt);
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .bind(InetAddress.getLoopbackAddress(), 0).syncUninterruptibly().channel();
        }

        static SniServer start(EventLoopGroup group, Mapping<String, SslContext> mapping) {
            return new SniServer(group, mapping);
        }

        int port() {
            return ((InetSocketAddress) channel.localAddress()).getPort();
        }

        List<String> sniNames() {
            return List.copyOf(sni);
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
        }
    }
}
