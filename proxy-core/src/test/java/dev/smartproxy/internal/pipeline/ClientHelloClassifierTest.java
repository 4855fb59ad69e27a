package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ClientHello peek on an {@link EmbeddedChannel} with frozen time: deterministic
 * fragmentation, byte-exact hand-over, and the timeout moved by the test's clock.
 */
class ClientHelloClassifierTest {
    private static final Route A = Route.named("a").match(m -> m.ports(443).domains("a.test"))
            .forward(f -> f.target("10.0.0.1", 443).tls(TlsMode.PASSTHROUGH)).build();
    private static final Route NO_DOMAINS = Route.named("fallback").match(m -> m.ports(443)).priority(-1)
            .forward(f -> f.target("10.0.0.9", 443).tls(TlsMode.PASSTHROUGH)).build();

    private final List<Route> routedTo = new ArrayList<>();
    private final ByteArrayOutputStream forwarded = new ByteArrayOutputStream();
    private EmbeddedChannel ch;
    private ManagedConnection conn;

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void setUp(Duration initialDataTimeout, int maxHello, Route... routes) {
        ConnectionPolicy policy = ConnectionPolicy.builder().initialDataTimeout(initialDataTimeout)
                .maxClientHelloSize(maxHello).build();
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        ProxyContext px = new ProxyContext(RouteTable.of(List.of(routes)), policy, registry,
                Transport.of(IoTransport.NIO));
        conn = registry.register(443, new InetSocketAddress("127.0.0.1", 40000));
        ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(ByteCounter.client(conn));
        ch.pipeline().addLast(new ClientHelloClassifier(px, conn, new ClientHelloClassifier.Router() {
            @Override
            public void routeTo(Route route, String sni) {
                routedTo.add(route);
            }

            @Override
            public void serveHttp() {
                routedTo.add(null);
            }
        }));
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                forwarded.writeBytes(bytes);
                b.release();
            }
        });
    }

    /** A real ClientHello record from the JDK's TLS client, optionally padded with ALPN names. */
    private static byte[] clientHello(String sni, int alpnPadding) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        SSLEngine engine = ctx.createSSLEngine(sni == null ? null : sni, 443);
        engine.setUseClientMode(true);
        SSLParameters p = engine.getSSLParameters();
        if (sni != null) {
            p.setServerNames(List.of(new SNIHostName(sni)));
        }
        if (alpnPadding > 0) {
            String[] names = new String[alpnPadding / 200 + 1];
            for (int i = 0; i < names.length; i++) {
                names[i] = String.valueOf((char) ('a' + i)).repeat(200);
            }
            p.setApplicationProtocols(names);
        }
        engine.setSSLParameters(p);
        ByteBuffer out = ByteBuffer.allocate(64 * 1024);
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] record = new byte[out.remaining()];
        out.get(record);
        return record;
    }

    /** Re-frames a single handshake record into records of at most {@code payload} bytes. */
    private static byte[] splitRecords(byte[] record, int payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int len = record.length - 5;
        for (int p = 0; p < len; p += payload) {
            int n = Math.min(payload, len - p);
            out.write(22);
            out.write(record[1]);
            out.write(record[2]);
            out.write(n >>> 8);
            out.write(n & 0xff);
            out.write(record, 5 + p, n);
        }
        return out.toByteArray();
    }

    private void feedByteByByte(byte[] bytes) {
        for (byte b : bytes) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
        }
    }

    @Test
    void routesAClientHelloFedOneByteAtATimeAndForwardsEveryByteOnce() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        byte[] hello = clientHello("a.test", 0);
        byte[] trailing = {23, 3, 3, 0, 1, 42}; // what follows the ClientHello must follow it unchanged
        feedByteByByte(hello);
        ch.writeInbound(Unpooled.wrappedBuffer(trailing));
        assertThat(routedTo).containsExactly(A);
        assertThat(conn.info().sni()).contains("a.test");
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(hello);
        expected.writeBytes(trailing);
        assertThat(forwarded.toByteArray()).isEqualTo(expected.toByteArray());
        assertThat(ch.pipeline().get(ClientHelloClassifier.class)).as("the peek removed itself").isNull();
    }

    @Test
    void reassemblesALargeClientHelloSplitAcrossManyRecords() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        byte[] hello = clientHello("a.test", 2400);
        assertThat(hello.length).isGreaterThan(2048);
        byte[] split = splitRecords(hello, 128);
        for (int i = 0; i < split.length; i += 37) { // segments that cut records and headers anywhere
            ch.writeInbound(Unpooled.wrappedBuffer(split, i, Math.min(37, split.length - i)));
        }
        assertThat(routedTo).containsExactly(A);
        assertThat(forwarded.toByteArray()).isEqualTo(split);
    }

    @Test
    void noSniFallsToARouteWithoutDomainsOnly() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A, NO_DOMAINS);
        ch.writeInbound(Unpooled.wrappedBuffer(clientHello(null, 0)));
        assertThat(routedTo).containsExactly(NO_DOMAINS);
    }

    @Test
    void noSniWithoutAFallbackIsRejected() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        ch.writeInbound(Unpooled.wrappedBuffer(clientHello(null, 0)));
        assertThat(routedTo).isEmpty();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.NO_SNI);
        assertThat(ch.isOpen()).isFalse();
        assertThat(forwarded.size()).isZero();
    }

    @Test
    void oversizedClientHelloIsRejectedOnItsDeclaredLength() throws Exception {
        setUp(Duration.ofSeconds(60), 1024, A);
        byte[] hello = clientHello("a.test", 2400);
        // Netty reads the handshake length once the first record is complete (a record is at
        // most 64 KiB by its 16-bit length), so what is held before refusing is bounded.
        ch.writeInbound(Unpooled.wrappedBuffer(splitRecords(hello, 256), 0, 5 + 256));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_HELLO_TOO_LARGE);
        assertThat(ch.isOpen()).isFalse();
        assertThat(routedTo).isEmpty();
    }

    @Test
    void timeoutFiresOnlyWhenTheClockPassesIt() throws Exception {
        setUp(Duration.ofMillis(5000), 64 * 1024, A);
        byte[] hello = clientHello("a.test", 0);
        ch.writeInbound(Unpooled.wrappedBuffer(hello, 0, 10));
        ch.advanceTimeBy(4999, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_HELLO_TIMEOUT);
    }

    @Test
    void timeoutIsCancelledOnceRouted() throws Exception {
        setUp(Duration.ofMillis(100), 64 * 1024, A);
        ch.writeInbound(Unpooled.wrappedBuffer(clientHello("a.test", 0)));
        ch.advanceTimeBy(1, TimeUnit.HOURS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        assertThat(conn.closeReason()).isNull();
    }
}
