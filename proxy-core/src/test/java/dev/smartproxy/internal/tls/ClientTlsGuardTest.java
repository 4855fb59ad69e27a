package dev.smartproxy.internal.tls;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.testing.TestPki;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.pkitesting.X509Bundle;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ClientTlsGuard} on {@link EmbeddedChannel}s: first in front of a stand-in for the TLS
 * handler (which completes the handshake when a chosen record has reached it), fed the same
 * record stream cut at every place; then in front of a real {@link SslHandler} (the JDK's
 * engine) with a real client engine.
 */
class ClientTlsGuardTest {
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private ManagedConnection conn;

    @AfterEach
    void tearDown() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    private ManagedConnection newConn() {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        return registry.register(443, new InetSocketAddress("127.0.0.1", 40000));
    }

    // ---- synthetic records -------------------------------------------------------------------

    /** A TLS record of {@code type} with a body of {@code length} bytes (a recognisable pattern). */
    private static byte[] record(int type, int length) {
        byte[] r = new byte[5 + length];
        r[0] = (byte) type;
        r[1] = 3;
        r[2] = 3;
        r[3] = (byte) (length >>> 8);
        r[4] = (byte) length;
        for (int i = 0; i < length; i++) {
            r[5 + i] = (byte) (0x41 + (i + type) % 26);
        }
        return r;
    }

    /** Appends {@code b}'s readable bytes to {@code into} and releases it. */
    private static void drain(ByteBuf b, ByteArrayOutputStream into) {
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        b.release();
        into.writeBytes(bytes);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** The client's handshake records: a ClientHello, a cipher change and its Finished. */
    private static final byte[] HANDSHAKE = concat(record(22, 60), record(20, 1), record(22, 40));
    /** After the handshake: application data (one of them empty) and an alert. */
    private static final byte[] DATA = concat(record(23, 100), record(23, 0), record(23, 300), record(21, 2));
    private static final byte[] RENEGOTIATION = record(22, 50);

    /**
     * The TLS handler's stand-in: keeps what reaches it, and completes the handshake once the
     * first {@code completeAt} bytes have, as the real one does when the client's Finished has.
     */
    private static final class StandIn extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final Promise<Channel> handshake = ImmediateEventExecutor.INSTANCE.newPromise();
        final int completeAt;
        int reads;

        StandIn(int completeAt) {
            this.completeAt = completeAt;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            reads++;
            drain(b, received);
            if (received.size() >= completeAt && !handshake.isDone()) {
                handshake.setSuccess(ctx.channel());
            }
        }
    }

    private StandIn standIn;

    private EmbeddedChannel guarded(int completeAt, String protocol) {
        conn = newConn();
        standIn = new StandIn(completeAt);
        EmbeddedChannel ch = new EmbeddedChannel();
        channels.add(ch);
        ch.pipeline().addLast("guard", new ClientTlsGuard(conn, standIn.handshake, () -> protocol));
        ch.pipeline().addLast(standIn);
        return ch;
    }

    /** Feeds {@code stream} cut at {@code cuts} (ascending offsets), stopping when the channel closes. */
    private static void feed(EmbeddedChannel ch, byte[] stream, int... cuts) {
        int from = 0;
        for (int i = 0; i <= cuts.length && ch.isOpen(); i++) {
            int to = i < cuts.length ? cuts[i] : stream.length;
            ByteBuf chunk = ch.alloc().buffer(to - from);
            chunk.writeBytes(stream, from, to - from);
            ch.writeInbound(chunk);
            from = to;
        }
    }

    private static int[] everyByte(int length) {
        int[] cuts = new int[length - 1];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = i + 1;
        }
        return cuts;
    }

    private void assertRefused(EmbeddedChannel ch, byte[] stream, int renegotiationAt) {
        assertThat(ch.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.TLS_RENEGOTIATION_REFUSED);
        byte[] got = standIn.received.toByteArray();
        assertThat(got.length).as("the handshake went through").isGreaterThanOrEqualTo(HANDSHAKE.length);
        assertThat(got.length).as("no byte of the renegotiation passed").isLessThanOrEqualTo(renegotiationAt);
        assertThat(got).isEqualTo(Arrays.copyOf(stream, got.length));
    }

    @Test
    void aRenegotiationAfterATls12HandshakeIsRefusedWhereverTheStreamIsCut() {
        byte[] stream = concat(HANDSHAKE, DATA, RENEGOTIATION, record(23, 10));
        int at = HANDSHAKE.length + DATA.length;
        for (int cut = 0; cut < stream.length; cut++) {
            EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
            feed(ch, stream, cut == 0 ? new int[0] : new int[] {cut});
            assertRefused(ch, stream, at);
        }
        EmbeddedChannel bytes = guarded(HANDSHAKE.length, "TLSv1.2");
        feed(bytes, stream, everyByte(stream.length));
        assertRefused(bytes, stream, at);
        // One byte at a time: everything before the renegotiation's first byte went through.
        assertThat(standIn.received.size()).isEqualTo(at);
    }

    @Test
    void everyHeaderSplitIsFollowed() {
        // The renegotiation's header cut after each of its bytes, and after each byte of the
        // header before it: the records are still told apart.
        byte[] stream = concat(HANDSHAKE, DATA, RENEGOTIATION);
        int at = HANDSHAKE.length + DATA.length;
        int alert = at - 7;
        for (int k = 1; k < 5; k++) {
            EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
            feed(ch, stream, alert + k, at, at + k);
            assertRefused(ch, stream, at);
            assertThat(standIn.received.size()).as("everything up to the renegotiation").isEqualTo(at);
        }
    }

    @Test
    void aRenegotiationInTheSameReadAsTheHandshakesEndIsRefusedToo() {
        // The client's Finished, data and a renegotiation in one read: the handshake completes
        // in the middle of it, and the records after that point are still checked.
        byte[] stream = concat(HANDSHAKE, DATA, RENEGOTIATION);
        EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
        feed(ch, stream, 10);
        assertRefused(ch, stream, HANDSHAKE.length + DATA.length);
        assertThat(standIn.received.size()).as("passed a record at a time until the handshake completed")
                .isEqualTo(HANDSHAKE.length);
    }

    @Test
    void withoutRenegotiationEveryByteGoesThroughWhereverTheStreamIsCut() {
        byte[] stream = concat(HANDSHAKE, DATA, DATA);
        for (int cut = 0; cut < stream.length; cut++) {
            EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
            feed(ch, stream, cut == 0 ? new int[0] : new int[] {cut});
            assertThat(ch.isOpen()).isTrue();
            assertThat(standIn.received.toByteArray()).isEqualTo(stream);
            assertThat(conn.closeReason()).isNull();
        }
        EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
        feed(ch, stream, everyByte(stream.length));
        assertThat(standIn.received.toByteArray()).isEqualTo(stream);
        assertThat(ch.pipeline().get("guard")).as("stays for TLS 1.2").isNotNull();
    }

    @Test
    void afterTheHandshakeAReadIsPassedOnWholeOnceItsHeadersAreRead() {
        EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.2");
        feed(ch, HANDSHAKE);
        int before = standIn.reads;
        feed(ch, concat(DATA, DATA));
        assertThat(standIn.reads - before).isEqualTo(1);
    }

    @Test
    void underTls13TheGuardRemovesItselfWhenTheHandshakeCompletes() {
        // TLS 1.3 clients send post-handshake messages as application data; a handshake-typed
        // record here only shows that nothing is checked any more.
        byte[] stream = concat(HANDSHAKE, DATA, record(22, 20), DATA);
        for (int cut : new int[] {0, 3, HANDSHAKE.length - 1, HANDSHAKE.length, HANDSHAKE.length + 2}) {
            EmbeddedChannel ch = guarded(HANDSHAKE.length, "TLSv1.3");
            feed(ch, stream, cut == 0 ? new int[0] : new int[] {cut});
            assertThat(ch.pipeline().get("guard")).isNull();
            assertThat(ch.isOpen()).isTrue();
            assertThat(standIn.received.toByteArray()).isEqualTo(stream);
        }
    }

    @Test
    void anSslV2FramedClientHelloIsFollowed() {
        byte[] v2Hello = new byte[2 + 46];
        v2Hello[0] = (byte) 0x80;
        v2Hello[1] = 46;
        v2Hello[2] = 1; // ClientHello
        byte[] handshake = concat(v2Hello, record(22, 40));
        byte[] stream = concat(handshake, DATA, RENEGOTIATION);
        EmbeddedChannel ch = guarded(handshake.length, "TLSv1.2");
        feed(ch, stream, everyByte(stream.length));
        assertThat(ch.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.TLS_RENEGOTIATION_REFUSED);
        assertThat(standIn.received.size()).isEqualTo(handshake.length + DATA.length);
    }

    @Test
    void bytesThatAreNotTlsRecordsAreLeftToTheTlsHandler() {
        byte[] http = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        EmbeddedChannel ch = guarded(Integer.MAX_VALUE, "TLSv1.2");
        feed(ch, http, 7);
        assertThat(standIn.received.toByteArray()).isEqualTo(http);
        assertThat(ch.pipeline().get("guard")).isNull();
        assertThat(conn.closeReason()).isNull();
    }

    @Test
    void aFailedHandshakeOtherThanATimeoutRecordsNothing() {
        EmbeddedChannel ch = guarded(Integer.MAX_VALUE, "TLSv1.2");
        standIn.handshake.setFailure(new SSLException("no shared cipher"));
        ch.runPendingTasks();
        assertThat(conn.closeReason()).isNull();
    }

    // ---- a real TLS handler, the JDK's engine --------------------------------------------------

    private static SslContext serverContext() throws SSLException {
        X509Bundle leaf = TestPki.shared().leaf("a.test");
        return SslContextBuilder.forServer(leaf.getKeyPair().getPrivate(), leaf.getCertificatePath())
                .sslProvider(SslProvider.JDK).protocols("TLSv1.3", "TLSv1.2").build();
    }

    private EmbeddedChannel realServer(long handshakeTimeoutMillis, ByteArrayOutputStream appData) throws SSLException {
        conn = newConn();
        EmbeddedChannel ch = new EmbeddedChannel();
        channels.add(ch);
        ch.freezeTime();
        SslHandler ssl = serverContext().newHandler(ch.alloc());
        ssl.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
        ch.pipeline().addLast("tls", ssl);
        ch.pipeline().addBefore("tls", "guard", new ClientTlsGuard(conn, ssl));
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                drain(b, appData);
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                ReferenceCountUtil.release(evt);
            }
        });
        return ch;
    }

    /** A client engine and the bytes from the server it has not read yet. */
    private static final class TlsClient {
        final SSLEngine engine;
        ByteBuffer fromServer = ByteBuffer.allocate(0);

        TlsClient(String protocol) {
            engine = TestPki.shared().clientContext().createSSLEngine("a.test", 443);
            engine.setUseClientMode(true);
            engine.setEnabledProtocols(new String[] {protocol});
            SSLParameters p = engine.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName("a.test")));
            engine.setSSLParameters(p);
        }

        /** What the engine sends for {@code app} (empty: the handshake messages it has to send). */
        byte[] wrap(byte[] app) throws SSLException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer src = ByteBuffer.wrap(app);
            ByteBuffer dst = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
            do {
                dst.clear();
                SSLEngineResult r = engine.wrap(src, dst);
                runTasks();
                out.write(dst.array(), 0, dst.position());
                if (r.bytesProduced() == 0) {
                    break;
                }
            } while (src.hasRemaining() || engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP);
            return out.toByteArray();
        }

        void runTasks() {
            Runnable task;
            while ((task = engine.getDelegatedTask()) != null) {
                task.run();
            }
        }

        /** Takes what the server wrote, then reads records while the engine wants to. */
        void read(EmbeddedChannel server) throws SSLException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            bytes.write(fromServer.array(), fromServer.position(), fromServer.remaining());
            ByteBuf b;
            while ((b = server.readOutbound()) != null) {
                drain(b, bytes);
            }
            fromServer = ByteBuffer.wrap(bytes.toByteArray());
            ByteBuffer app = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
            while (fromServer.hasRemaining() && engine.getHandshakeStatus() != SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                SSLEngineResult r = engine.unwrap(fromServer, app);
                runTasks();
                if (r.getStatus() != SSLEngineResult.Status.OK || r.bytesConsumed() == 0) {
                    break;
                }
            }
        }

        /** Runs the handshake with {@code server} to its end on both sides. */
        void handshake(EmbeddedChannel server) throws SSLException {
            engine.beginHandshake();
            for (int round = 0; round < 50
                    && engine.getHandshakeStatus() != SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING; round++) {
                if (engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                    server.writeInbound(Unpooled.wrappedBuffer(wrap(new byte[0])));
                } else if (engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                    runTasks();
                } else {
                    read(server);
                }
            }
            read(server); // TLS 1.3 session tickets
            assertThat(engine.getHandshakeStatus()).isEqualTo(SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING);
            assertThat(server.pipeline().get(SslHandler.class).handshakeFuture().isSuccess()).isTrue();
        }
    }

    @Test
    void aRealTls12RenegotiationIsRefusedOnItsFirstByte() throws Exception {
        ByteArrayOutputStream appData = new ByteArrayOutputStream();
        EmbeddedChannel server = realServer(10_000, appData);
        TlsClient client = new TlsClient("TLSv1.2");
        client.handshake(server);
        server.writeInbound(Unpooled.wrappedBuffer(client.wrap("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII))));
        assertThat(appData.toString(StandardCharsets.US_ASCII)).isEqualTo("GET / HTTP/1.1\r\n\r\n");
        assertThat(server.pipeline().get("guard")).isNotNull();

        client.engine.beginHandshake(); // the JDK client renegotiates: an encrypted ClientHello
        byte[] hello = client.wrap(new byte[0]);
        assertThat(hello[0]).as("a handshake record").isEqualTo((byte) 22);
        server.writeInbound(Unpooled.wrappedBuffer(hello, 0, 1));
        assertThat(server.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.TLS_RENEGOTIATION_REFUSED);
    }

    @Test
    void aRealTls13HandshakeRemovesTheGuardAndAKeyUpdatePasses() throws Exception {
        ByteArrayOutputStream appData = new ByteArrayOutputStream();
        EmbeddedChannel server = realServer(10_000, appData);
        TlsClient client = new TlsClient("TLSv1.3");
        client.handshake(server);
        assertThat(server.pipeline().get("guard")).isNull();
        client.engine.beginHandshake(); // TLS 1.3: a KeyUpdate, sent as application data
        byte[] keyUpdate = client.wrap(new byte[0]);
        assertThat(keyUpdate).isNotEmpty();
        byte[] request = client.wrap("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        server.writeInbound(Unpooled.wrappedBuffer(concat(keyUpdate, request)));
        assertThat(server.isOpen()).isTrue();
        assertThat(appData.toString(StandardCharsets.US_ASCII)).isEqualTo("GET / HTTP/1.1\r\n\r\n");
    }

    @Test
    void aHandshakeThatTimesOutIsRecordedAsSuch() throws Exception {
        EmbeddedChannel server = realServer(1000, new ByteArrayOutputStream());
        TlsClient client = new TlsClient("TLSv1.3");
        client.engine.beginHandshake();
        server.writeInbound(Unpooled.wrappedBuffer(client.wrap(new byte[0]))); // the ClientHello, then silence
        server.advanceTimeBy(999, TimeUnit.MILLISECONDS);
        server.runScheduledPendingTasks();
        assertThat(server.isOpen()).isTrue();
        server.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        server.runScheduledPendingTasks();
        assertThat(server.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.TLS_HANDSHAKE_TIMEOUT);
    }
}
