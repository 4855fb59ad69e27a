package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.transport.ByteCounter;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.internal.connection.BufferBudget;
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
import io.netty.channel.socket.ChannelInputShutdownEvent;
import dev.smartproxy.internal.PipelineNames;
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
    /** The reasons the registry accounted closes with (from the channel's close future). */
    private final List<CloseReason> closedWith = new ArrayList<>();
    private final ByteArrayOutputStream forwarded = new ByteArrayOutputStream();
    private EmbeddedChannel ch;
    private ManagedConnection conn;
    private ProxyContext px;

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void setUp(Duration initialDataTimeout, int maxHello, Route... routes) {
        setUp(ConnectionPolicy.builder().initialDataTimeout(initialDataTimeout).maxClientHelloSize(maxHello).build(),
                routes);
    }

    private void setUp(ConnectionPolicy policy, Route... routes) {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
            @Override
            public void onClosed(ConnectionInfo info) {
                closedWith.add(info.closeReason().orElseThrow());
            }
        }), Clock.systemUTC(), Ticker.SYSTEM);
        px = new ProxyContext(RouteTable.of(List.of(routes)), policy, registry,
                Transport.of(IoTransport.NIO));
        conn = registry.register(443, new InetSocketAddress("127.0.0.1", 40000));
        ch = new EmbeddedChannel();
        ch.freezeTime();
        registry.watchLeg(conn, ch); // close accounting, as the accept stage sets it up
        ch.pipeline().addLast(ByteCounter.client(conn));
        ch.pipeline().addLast(new ClientHelloClassifier(px, conn, new ClientHelloClassifier.Router() {
            @Override
            public void routeTo(Route route, String sni, boolean clientHello) {
                routedTo.add(route);
            }

            @Override
            public void serveHttp(Route connectionRoute) {
                routedTo.add(null);
            }
        }, px.routing()));
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

    /** A ClientHello handshake header declaring {@code declared} bytes, then {@code payload} bytes, in 1-byte records. */
    private static byte[] oneByteRecords(int declared, int payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] hs = new byte[4 + payload];
        hs[0] = 1;
        hs[1] = (byte) (declared >>> 16);
        hs[2] = (byte) (declared >>> 8);
        hs[3] = (byte) declared;
        for (byte b : hs) {
            out.write(22);
            out.write(3);
            out.write(1);
            out.write(0);
            out.write(1);
            out.write(b);
        }
        return out.toByteArray();
    }

    @Test
    void aClientHelloInOneByteRecordsIsCappedOnWireBytes() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        // Declared within the cap, but each payload byte costs 6 wire bytes: 60,000 declared bytes
        // would hold 360 KB of wire bytes (plus Netty's reassembly copy) for as long as the peek waits.
        byte[] wire = oneByteRecords(60_000, 60_000);
        int sent = 0;
        for (int i = 0; i < wire.length && ch.isOpen(); i += 4096) {
            int n = Math.min(4096, wire.length - i);
            ch.writeInbound(Unpooled.wrappedBuffer(wire, i, n));
            sent += n;
        }
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_HELLO_TOO_LARGE);
        assertThat(ch.isOpen()).isFalse();
        assertThat(sent).as("wire bytes taken before refusing").isLessThanOrEqualTo(64 * 1024 + 4 + 5 * 256 + 4096);
        assertThat(ClientHelloClassifier.wireCap(64 * 1024)).isEqualTo(64 * 1024 + 4 + 5 * 256);
        assertThat(routedTo).isEmpty();
        assertThat(forwarded.size()).isZero();
        assertThat(px.budget().used()).as("released on close").isZero();
    }

    @Test
    void thePeeksWireBytesCountInTheBudgetAndItStopsReadingWhileTheBudgetIsFull() throws Exception {
        setUp(ConnectionPolicy.builder().bufferBudget(64 * 1024).build(), A);
        // a 12 KB hello in 8-byte records: about 20 KB on the wire
        byte[] split = splitRecords(clientHello("a.test", 12_000), 8);
        int most = split.length - 100;
        assertThat(most).isGreaterThan(BufferBudget.FLOOR);
        BufferBudget.Holder others = px.budget().holder(ch.eventLoop(), null, () -> { });
        others.hold(64 * 1024); // other connections fill the budget
        ch.writeInbound(Unpooled.wrappedBuffer(split, 0, 10_000));
        assertThat(conn.info().bufferedBytes()).as("the wire bytes held").isEqualTo(10_000);
        assertThat(ch.config().isAutoRead()).as("within the 16 KiB floor").isTrue();
        ch.writeInbound(Unpooled.wrappedBuffer(split, 10_000, most - 10_000));
        assertThat(ch.config().isAutoRead()).as("above its floor with the budget full: paused").isFalse();
        assertThat(ch.isOpen()).isTrue();
        assertThat(routedTo).isEmpty();
        assertThat(px.budget().used()).isEqualTo(64 * 1024 + most);

        others.close();
        ch.runPendingTasks();
        assertThat(ch.config().isAutoRead()).as("resumed once there is room").isTrue();
        ch.writeInbound(Unpooled.wrappedBuffer(split, most, split.length - most));
        assertThat(routedTo).containsExactly(A);
        assertThat(forwarded.toByteArray()).isEqualTo(split);
        assertThat(px.budget().used()).as("handed over: the next handler counts what it keeps").isZero();
        assertThat(conn.info().bufferedBytes()).isZero();
    }

    @Test
    void aPeekPausedByTheBudgetIsStillEndedByItsTimeoutAndReleased() throws Exception {
        setUp(ConnectionPolicy.builder().bufferBudget(64 * 1024).initialDataTimeout(Duration.ofSeconds(10)).build(), A);
        byte[] split = splitRecords(clientHello("a.test", 12_000), 8);
        BufferBudget.Holder others = px.budget().holder(ch.eventLoop(), null, () -> { });
        others.hold(64 * 1024);
        ch.writeInbound(Unpooled.wrappedBuffer(split, 0, split.length - 100));
        assertThat(ch.config().isAutoRead()).isFalse();
        ch.advanceTimeBy(10, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_HELLO_TIMEOUT);
        assertThat(ch.isOpen()).isFalse();
        assertThat(px.budget().used()).isEqualTo(64 * 1024);
        assertThat(px.budget().waiting()).isZero();
        others.close();
        assertThat(px.budget().used()).isZero();
    }

    @Test
    void aNormalClientHelloInOneByteRecordsIsStillRouted() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        byte[] split = splitRecords(clientHello("a.test", 0), 1); // a real hello, heavily fragmented
        ch.writeInbound(Unpooled.wrappedBuffer(split));
        assertThat(routedTo).containsExactly(A);
        assertThat(forwarded.toByteArray()).isEqualTo(split);
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

    @Test
    void netty_sOwnRejectionIsAccountedWithItsReasonThoughNettyClosesBeforeItThrows() throws Exception {
        setUp(Duration.ofSeconds(60), 1024, A);
        byte[] hello = clientHello("a.test", 2400);
        ch.writeInbound(Unpooled.wrappedBuffer(splitRecords(hello, 256), 0, 5 + 256));
        assertThat(ch.isOpen()).isFalse();
        assertThat(closedWith).as("the close future saw the reason").containsExactly(CloseReason.CLIENT_HELLO_TOO_LARGE);
    }

    @Test
    void aRecordThatIsNotTlsIsAccountedAsAnInvalidHello() {
        setUp(Duration.ofSeconds(60), 1024, A);
        // An alert record with no TLS version: Netty's peek refuses it as not TLS at all.
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {21, (byte) 0x99, (byte) 0x99, 0, 0, 0}));
        assertThat(ch.isOpen()).isFalse();
        assertThat(closedWith).containsExactly(CloseReason.CLIENT_HELLO_INVALID);
    }

    @Test
    void aFinBeforeAnyRouteClosesTheConnectionAndTheCompanionLeavesWithThePeek() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        assertThat(ch.pipeline().get(PipelineNames.CLIENT_UNROUTED)).isNotNull();
        byte[] hello = clientHello("a.test", 0);
        ch.writeInbound(Unpooled.wrappedBuffer(hello, 0, 20));
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(conn.isClientInputClosed()).isTrue();
        assertThat(ch.isOpen()).isFalse();
        assertThat(closedWith).containsExactly(CloseReason.CLIENT_CLOSED);
        assertThat(routedTo).isEmpty();
    }

    @Test
    void onceRoutedNeitherThePeekNorItsCompanionStays() throws Exception {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        ch.writeInbound(Unpooled.wrappedBuffer(clientHello("a.test", 0)));
        assertThat(routedTo).containsExactly(A);
        assertThat(ch.pipeline().get(PipelineNames.CLIENT_UNROUTED)).isNull();
        assertThat(ch.pipeline().get(ClientHelloClassifier.class)).isNull();
    }

    @Test
    void aSocketErrorBeforeAnyRouteIsAClientReset() {
        setUp(Duration.ofSeconds(60), 64 * 1024, A);
        ch.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
        assertThat(ch.isOpen()).isFalse();
        assertThat(closedWith).containsExactly(CloseReason.CLIENT_RESET);
    }
}
