package dev.smartproxy.internal.websocket;

import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.WebSocketClose;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The WebSocket relay on two {@link EmbeddedChannel}s (client leg and backend leg) with frozen
 * time: frames are encoded as a real peer would send them and the proxy's output is decoded
 * back, so masking, RSV bits, status codes and payloads are checked on the wire format.
 */
class WebSocketRelayTest {
    private static final WebSocketSettings DEFAULTS = WebSocketSettings.defaults();
    /** A budget that never pauses a leg; WebSocketRelayBudgetTest covers a full one. */
    private static final BufferBudget UNLIMITED = new BufferBudget(Long.MAX_VALUE);
    private static final WebSocketSettings NO_HEARTBEAT = WebSocketSettings.builder().pingInterval(Duration.ZERO).build();

    private EmbeddedChannel client;
    private EmbeddedChannel backend;
    private ManagedConnection conn;
    private final List<CloseReason> actionCalls = new ArrayList<>();
    private final List<Object> held = new ArrayList<>();

    /** A decoded frame, copied out so the buffers are released at once. */
    record F(String kind, boolean fin, int rsv, byte[] data, int code, String reason) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    @AfterEach
    void tearDown() {
        held.forEach(ReferenceCountUtil::release);
        if (client != null) {
            client.finishAndReleaseAll();
        }
        if (backend != null) {
            backend.finishAndReleaseAll();
        }
    }

    private void setUp(WebSocketSettings settings) {
        newChannels();
        WebSocketRelay.install(client, backend, settings, conn, this::action, UNLIMITED);
    }

    private void newChannels() {
        conn = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM)
                .register(443, new InetSocketAddress("127.0.0.1", 4000));
        client = new EmbeddedChannel();
        backend = new EmbeddedChannel();
        client.freezeTime();
        backend.freezeTime();
    }

    private void action(CloseReason reason) {
        actionCalls.add(reason);
        client.close();
        backend.close();
    }

    // ---- wire helpers

    private static ByteBuf encode(boolean mask, WebSocketFrame... frames) {
        EmbeddedChannel enc = new EmbeddedChannel(new WebSocket13FrameEncoder(mask));
        enc.writeOutbound((Object[]) frames);
        ByteBuf out = Unpooled.buffer();
        for (Object o; (o = enc.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            out.writeBytes(b);
            b.release();
        }
        enc.finishAndReleaseAll();
        return out;
    }

    private void fromClient(WebSocketFrame... frames) {
        client.writeInbound(encode(true, frames));
    }

    private void fromBackend(WebSocketFrame... frames) {
        backend.writeInbound(encode(false, frames));
    }

    /** Frames the proxy sent the client (unmasked, as a server sends). */
    private List<F> toClient() {
        return drain(client, false);
    }

    /** Frames the proxy sent the backend (masked, as a client sends). */
    private List<F> toBackend() {
        return drain(backend, true);
    }

    private static List<F> drain(EmbeddedChannel leg, boolean expectMasked) {
        EmbeddedChannel dec = new EmbeddedChannel(new WebSocket13FrameDecoder(WebSocketDecoderConfig.newBuilder()
                .expectMaskedFrames(expectMasked).allowMaskMismatch(false).allowExtensions(true)
                .withUTF8Validator(false).maxFramePayloadLength(64 * 1024 * 1024).build()));
        for (Object o; (o = leg.readOutbound()) != null; ) {
            dec.writeInbound(o);
        }
        List<F> frames = new ArrayList<>();
        for (Object o; (o = dec.readInbound()) != null; ) {
            WebSocketFrame f = (WebSocketFrame) o;
            byte[] data = ByteBufUtil.getBytes(f.content());
            String kind = f.getClass().getSimpleName().replace("WebSocketFrame", "").toLowerCase();
            if (f instanceof CloseWebSocketFrame c) {
                frames.add(new F(kind, f.isFinalFragment(), f.rsv(), data, c.statusCode(), c.reasonText()));
            } else {
                frames.add(new F(kind, f.isFinalFragment(), f.rsv(), data, -1, null));
            }
            f.release();
        }
        dec.finishAndReleaseAll();
        return frames;
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private void advance(Duration d) {
        client.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
        backend.advanceTimeBy(d.toNanos(), TimeUnit.NANOSECONDS);
        client.runPendingTasks();
        backend.runPendingTasks();
    }

    private static F only(List<F> frames) {
        assertThat(frames).hasSize(1);
        return frames.get(0);
    }

    private static void assertClose(F f, int code, String reason) {
        assertThat(f.kind()).isEqualTo("close");
        assertThat(f.code()).isEqualTo(code);
        assertThat(f.reason()).isEqualTo(reason);
    }

    // ---- relay

    @Test
    void installsNamedHandlersAtTheEndAndMarksTheConnection() {
        setUp(DEFAULTS);
        assertThat(conn.isWebSocket()).isTrue();
        assertThat(client.pipeline().names()).containsSubsequence("ws-encoder", "ws-decoder", "ws-relay");
        assertThat(backend.pipeline().names()).containsSubsequence("ws-encoder", "ws-decoder", "ws-relay");
    }

    @Test
    void dataAndContinuationFramesAreRelayedBothWaysUnchanged() {
        setUp(DEFAULTS);
        fromClient(new TextWebSocketFrame(false, 0, "hel"), new ContinuationWebSocketFrame(true, 0, "lo"),
                new BinaryWebSocketFrame(true, 4, Unpooled.wrappedBuffer(new byte[]{1, 2, 3})));
        List<F> up = toBackend();
        assertThat(up).extracting(F::kind).containsExactly("text", "continuation", "binary");
        assertThat(up.get(0).fin()).isFalse();
        assertThat(up.get(0).text()).isEqualTo("hel");
        assertThat(up.get(1).fin()).isTrue();
        assertThat(up.get(1).text()).isEqualTo("lo");
        assertThat(up.get(2).rsv()).as("permessage-deflate's RSV1 passes through").isEqualTo(4);
        assertThat(up.get(2).data()).containsExactly(1, 2, 3);
        assertThat(toClient()).isEmpty();

        // not valid UTF-8: the relay does not inspect payloads (compressed text is binary)
        fromBackend(new TextWebSocketFrame(true, 4, Unpooled.wrappedBuffer(new byte[]{(byte) 0xff, 0})),
                new BinaryWebSocketFrame(false, 0, bytes("ab")), new ContinuationWebSocketFrame(true, 0, bytes("c")));
        List<F> down = toClient();
        assertThat(down).extracting(F::kind).containsExactly("text", "binary", "continuation");
        assertThat(down.get(0).data()).containsExactly(0xff, 0);
        assertThat(down.get(0).rsv()).isEqualTo(4);
        assertThat(down.get(1).fin()).isFalse();
        assertThat(down.get(2).text()).isEqualTo("c");

        assertThat(conn.bytesFromClient()).isEqualTo(3 + 2 + 3);
        assertThat(conn.bytesFromBackend()).isEqualTo(2 + 2 + 1);
        assertThat(client.isOpen()).isTrue();
        assertThat(backend.isOpen()).isTrue();
    }

    @Test
    void peersPingsAndPongsAreRelayedAndNeverAnsweredByTheProxy() {
        setUp(DEFAULTS);
        fromClient(new PingWebSocketFrame(bytes("from-client")));
        assertThat(toClient()).as("the proxy never answers a peer's ping").isEmpty();
        F ping = only(toBackend());
        assertThat(ping.kind()).isEqualTo("ping");
        assertThat(ping.text()).isEqualTo("from-client");

        fromBackend(new PongWebSocketFrame(bytes("from-client")));
        F pong = only(toClient());
        assertThat(pong.kind()).isEqualTo("pong");
        assertThat(pong.text()).isEqualTo("from-client");

        fromBackend(new PingWebSocketFrame(bytes("from-backend")));
        assertThat(toBackend()).isEmpty();
        assertThat(only(toClient()).text()).isEqualTo("from-backend");

        fromClient(new PongWebSocketFrame(bytes("unsolicited")));
        assertThat(only(toBackend()).kind()).isEqualTo("pong");
    }

    @Test
    void leftoverBytesBufferedByTheHttpCodecAreDecodedAfterInstall() {
        newChannels();
        backend.pipeline().addLast("http", new HttpClientCodec());
        backend.pipeline().addLast("caller", new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof ByteBuf) {
                    // HttpClientCodec hands on the bytes after a 101 raw, possibly in the same read
                    // batch as the 101: the caller must pass them on, never drop them
                    ctx.fireChannelRead(msg);
                    return;
                }
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    // what the HTTP proxy does once the 101 is relayed to the client
                    WebSocketRelay.install(client, backend, DEFAULTS, conn, WebSocketRelayTest.this::action, UNLIMITED);
                    ctx.pipeline().remove("http");
                    ctx.pipeline().remove(this);
                }
            }
        });
        backend.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ws"));
        for (Object o; (o = backend.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        ByteBuf wire = Unpooled.buffer();
        wire.writeCharSequence("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", StandardCharsets.US_ASCII);
        ByteBuf frames = encode(false, new TextWebSocketFrame("in the same segment as the 101"),
                new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[]{9})));
        // the second frame arrives split: half with the 101, half in the next read
        int split = frames.readableBytes() - 1;
        wire.writeBytes(frames, split);
        backend.writeInbound(wire);
        assertThat(backend.pipeline().get("http")).isNull();
        backend.writeInbound(frames);

        List<F> down = toClient();
        assertThat(down).extracting(F::kind).containsExactly("text", "binary");
        assertThat(down.get(0).text()).isEqualTo("in the same segment as the 101");
        assertThat(down.get(1).data()).containsExactly(9);
    }

    @Test
    void bytesWrittenRightAfterInstallAreDecoded() {
        setUp(DEFAULTS);
        ByteBuf two = encode(true, new TextWebSocketFrame("a"), new TextWebSocketFrame("b"));
        client.writeInbound(two.readRetainedSlice(3));
        client.writeInbound(two);
        assertThat(toBackend()).extracting(F::text).containsExactly("a", "b");
    }

    @Test
    void aLegThatCannotTakeMoreStopsTheOtherLegsReads() {
        setUp(NO_HEARTBEAT);
        boolean[] blockFlush = {true};
        client.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
        client.pipeline().addFirst("stuck", new ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(ChannelHandlerContext ctx) {
                if (!blockFlush[0]) {
                    ctx.flush();
                }
            }
        });
        fromBackend(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[64])));
        assertThat(client.isWritable()).isFalse();
        assertThat(backend.config().isAutoRead()).as("backend reads paused").isFalse();
        assertThat(client.config().isAutoRead()).isTrue();

        blockFlush[0] = false;
        client.flush();
        client.runPendingTasks();
        assertThat(client.isWritable()).isTrue();
        assertThat(backend.config().isAutoRead()).as("backend reads resumed").isTrue();
        assertThat(only(toClient()).data()).hasSize(64);
    }

    @Test
    void peerFramesAreRelayedAsTheBytesTheyCameAsMaskIncluded() {
        setUp(NO_HEARTBEAT);
        ByteBuf up = encode(true, new TextWebSocketFrame("to the backend"), new BinaryWebSocketFrame(true, 4,
                Unpooled.wrappedBuffer(new byte[300])), new PingWebSocketFrame(bytes("p")));
        byte[] upBytes = ByteBufUtil.getBytes(up);
        client.writeInbound(up);
        assertThat(rawOutbound(backend)).as("the client's mask goes on to the backend").isEqualTo(upBytes);
        ByteBuf down = encode(false, new TextWebSocketFrame(false, 0, "to the "), new PongWebSocketFrame(bytes("q")),
                new ContinuationWebSocketFrame(true, 0, "client"));
        byte[] downBytes = ByteBufUtil.getBytes(down);
        backend.writeInbound(down);
        assertThat(rawOutbound(client)).isEqualTo(downBytes);
    }

    private static byte[] rawOutbound(EmbeddedChannel leg) {
        ByteBuf all = Unpooled.buffer();
        for (Object o; (o = leg.readOutbound()) != null; ) {
            all.writeBytes((ByteBuf) o);
            ((ByteBuf) o).release();
        }
        byte[] b = ByteBufUtil.getBytes(all);
        all.release();
        return b;
    }

    @Test
    void theProxysPingsGoOutOnlyBetweenFramesNeverInsideOne() {
        setUp(DEFAULTS);
        ByteBuf down = encode(false, new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[10_000])));
        ByteBuf up = encode(true, new TextWebSocketFrame("y".repeat(5_000)));
        backend.writeInbound(down.readRetainedSlice(4_000)); // half a frame each way when the pings fall due
        client.writeInbound(up.readRetainedSlice(2_500));
        advance(Duration.ofSeconds(30));
        backend.writeInbound(down);
        client.writeInbound(up);
        // decoded as one stream each: a ping written inside the frame would corrupt both
        List<F> toClient = toClient();
        assertThat(toClient).extracting(F::kind).containsExactly("ping", "binary");
        assertThat(toClient.get(1).data()).hasSize(10_000);
        List<F> toBackend = toBackend();
        assertThat(toBackend).extracting(F::kind).containsExactly("ping", "text");
        assertThat(toBackend.get(1).text()).isEqualTo("y".repeat(5_000));
    }

    @Test
    void anOversizedFrameIsRefusedFromItsHeaderBeforeItsPayloadArrives() {
        setUp(WebSocketSettings.builder().maxFrameSize(1000).build());
        client.writeInbound(Unpooled.wrappedBuffer(new byte[]{(byte) 0x82, (byte) (0x80 | 127), 0, 0, 0, 0, 0x40, 0, 0, 0}));
        assertClose(only(toClient()), 1009, "frame too big");
        assertClose(only(toBackend()), 1001, "client protocol error");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
    }

    @Test
    void messagesAreCountedOncePerMessageEachWayAndTheCloseCodesReported() {
        List<WebSocketClose> closes = new ArrayList<>();
        conn = new ConnectionRegistry(List.of(new ProxyEventListener() {
            @Override
            public void onWebSocketClosed(ConnectionInfo connection, WebSocketClose close) {
                closes.add(close);
            }
        }), Clock.systemUTC(), Ticker.SYSTEM).register(443, new InetSocketAddress("127.0.0.1", 4000));
        client = new EmbeddedChannel();
        backend = new EmbeddedChannel();
        client.freezeTime();
        backend.freezeTime();
        WebSocketRelay.install(client, backend, DEFAULTS, conn, this::action, UNLIMITED);
        // three messages in one read, one of them in three fragments with a ping between; the proxy's own pong is not one
        fromClient(new TextWebSocketFrame("a"), new BinaryWebSocketFrame(false, 0, bytes("b1")),
                new PingWebSocketFrame(bytes("p")), new ContinuationWebSocketFrame(false, 0, "b2"),
                new ContinuationWebSocketFrame(true, 0, "b3"), new TextWebSocketFrame("c"));
        fromBackend(new TextWebSocketFrame("x"), new PongWebSocketFrame(bytes("p")));
        fromBackend(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[3])));
        assertThat(conn.bytesFromClient()).isEqualTo(1 + 2 + 1 + 2 + 2 + 1);
        assertThat(conn.bytesFromBackend()).isEqualTo(1 + 1 + 3);
        assertThat(conn.bytesToClient()).isEqualTo(1 + 1 + 3);
        fromBackend(new CloseWebSocketFrame(4001, "later"));
        fromClient(new CloseWebSocketFrame(4002, "ok"));
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(closes).containsExactly(new WebSocketClose(4002, 4001, 3, 2));
        assertThat(toBackend()).extracting(F::kind).containsExactly("text", "binary", "ping", "continuation",
                "continuation", "text", "close");
    }

    // ---- heartbeat

    /** Answers every proxy ping with the matching pong; returns how many pings each leg got. */
    private int[] answerPings() {
        int[] n = new int[2];
        for (F f : toClient()) {
            assertThat(f.kind()).isEqualTo("ping");
            assertThat(f.text()).startsWith(WebSocketRelay.PING_MARKER);
            fromClient(new PongWebSocketFrame(Unpooled.wrappedBuffer(f.data())));
            n[0]++;
        }
        for (F f : toBackend()) {
            assertThat(f.kind()).isEqualTo("ping");
            assertThat(f.text()).startsWith(WebSocketRelay.PING_MARKER);
            fromBackend(new PongWebSocketFrame(Unpooled.wrappedBuffer(f.data())));
            n[1]++;
        }
        return n;
    }

    @Test
    void legsThatAnswerStayOpenForHoursAndTheProxysPongsAreNeverRelayed() {
        setUp(DEFAULTS);
        int clientPings = 0;
        int backendPings = 0;
        for (int i = 0; i < 6 * 60 * 2; i++) { // 6 hours in 30 s steps
            advance(Duration.ofSeconds(30));
            int[] n = answerPings();
            clientPings += n[0];
            backendPings += n[1];
            // a pong answering the proxy is consumed: nothing reaches the other peer
            assertThat(toClient()).isEmpty();
            assertThat(toBackend()).isEmpty();
        }
        assertThat(clientPings).isEqualTo(720);
        assertThat(backendPings).isEqualTo(720);
        assertThat(client.isOpen()).isTrue();
        assertThat(backend.isOpen()).isTrue();
        assertThat(conn.closeReason()).isNull();
        assertThat(conn.bytesFromClient()).as("heartbeat frames are not traffic").isZero();
    }

    @Test
    void aSilentBackendIsClosedWithHeartbeatTimeout() {
        setUp(DEFAULTS);
        advance(Duration.ofSeconds(29));
        assertThat(toClient()).isEmpty();
        advance(Duration.ofSeconds(1));
        List<F> clientPing = toClient();
        assertThat(only(clientPing).kind()).isEqualTo("ping");
        fromClient(new PongWebSocketFrame(Unpooled.wrappedBuffer(clientPing.get(0).data())));
        assertThat(only(toBackend()).kind()).isEqualTo("ping"); // the backend never answers

        // other traffic from the silent leg is not proof of life
        fromBackend(new TextWebSocketFrame("data"), new PongWebSocketFrame(bytes("not the proxy's")));
        assertThat(toClient()).extracting(F::kind).containsExactly("text", "pong");

        advance(Duration.ofSeconds(10).minusMillis(1));
        assertThat(backend.isOpen()).isTrue();
        assertThat(conn.closeReason()).isNull();

        advance(Duration.ofMillis(1));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.HEARTBEAT_TIMEOUT);
        assertClose(only(toClient()), 1001, "heartbeat timeout");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(toBackend()).as("no Close for the dead leg, and no more pings").isEmpty();
        assertThat(actionCalls).isEmpty();
    }

    @Test
    void aSilentClientIsClosedWithHeartbeatTimeoutAndTheBackendIsTold() {
        setUp(DEFAULTS);
        for (int i = 0; i < 10; i++) { // healthy for a while
            advance(Duration.ofSeconds(30));
            answerPings();
        }
        advance(Duration.ofSeconds(30));
        assertThat(only(toClient()).kind()).isEqualTo("ping"); // unanswered
        List<F> backendPing = toBackend();
        fromBackend(new PongWebSocketFrame(Unpooled.wrappedBuffer(only(backendPing).data())));
        advance(Duration.ofSeconds(10));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.HEARTBEAT_TIMEOUT);
        assertClose(only(toBackend()), 1001, "heartbeat timeout");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
    }

    @Test
    void aLateOrWrongPongDoesNotSatisfyTheCheck() {
        setUp(WebSocketSettings.builder().pingInterval(Duration.ofSeconds(30)).pingTimeout(Duration.ofSeconds(10))
                .build());
        advance(Duration.ofSeconds(30));
        F ping = only(toClient());
        answerBackendOnly();
        // a pong carrying the proxy's marker but not this ping's payload: consumed, not relayed, not an answer
        byte[] wrong = (ping.text() + "0").getBytes(StandardCharsets.US_ASCII);
        fromClient(new PongWebSocketFrame(Unpooled.wrappedBuffer(wrong)));
        assertThat(toBackend()).isEmpty();
        advance(Duration.ofSeconds(10));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.HEARTBEAT_TIMEOUT);
    }

    private void answerBackendOnly() {
        for (F f : toBackend()) {
            fromBackend(new PongWebSocketFrame(Unpooled.wrappedBuffer(f.data())));
        }
    }

    @Test
    void backpressureNeitherStartsNorEndsAHeartbeatDeadline() {
        setUp(DEFAULTS);
        boolean[] blockFlush = {true};
        client.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
        client.pipeline().addFirst("stuck", new ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(ChannelHandlerContext ctx) {
                if (!blockFlush[0]) {
                    ctx.flush();
                }
            }
        });
        fromBackend(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[64])));
        assertThat(backend.config().isAutoRead()).isFalse();

        advance(Duration.ofSeconds(30)); // both legs are due a ping
        F backendPing = only(toBackend());
        advance(Duration.ofMinutes(5));
        // the client's ping is not written yet (its clock has not started); the backend's pong may
        // be sitting unread behind the proxy's own backpressure (its deadline is extended)
        assertThat(conn.closeReason()).isNull();
        assertThat(client.isOpen()).isTrue();
        assertThat(backend.isOpen()).isTrue();

        blockFlush[0] = false;
        client.flush();
        client.runPendingTasks();
        assertThat(backend.config().isAutoRead()).isTrue();
        fromBackend(new PongWebSocketFrame(Unpooled.wrappedBuffer(backendPing.data())));
        List<F> down = toClient();
        assertThat(down).extracting(F::kind).containsExactly("binary", "ping");
        fromClient(new PongWebSocketFrame(Unpooled.wrappedBuffer(down.get(1).data())));
        advance(Duration.ofSeconds(10));
        assertThat(conn.closeReason()).isNull();
        assertThat(client.isOpen()).isTrue();
        assertThat(backend.isOpen()).isTrue();

        // and the check still works afterwards
        advance(Duration.ofSeconds(20));
        answerBackendOnly();
        toClient();
        advance(Duration.ofSeconds(10));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.HEARTBEAT_TIMEOUT);
    }

    @Test
    void zeroPingIntervalNeverPings() {
        setUp(NO_HEARTBEAT);
        for (int i = 0; i < 48; i++) {
            advance(Duration.ofMinutes(30));
            assertThat(toClient()).isEmpty();
            assertThat(toBackend()).isEmpty();
        }
        assertThat(client.isOpen()).isTrue();
        assertThat(backend.isOpen()).isTrue();
        assertThat(conn.closeReason()).isNull();
    }

    @Test
    void aStuckFlushIsEndedThroughTheConnectionActions() {
        setUp(DEFAULTS);
        backend.pipeline().addFirst("stuck", new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                held.add(msg); // never written, never completed: a peer that reads nothing
            }
        });
        advance(Duration.ofSeconds(30));
        toClient(); // the client never answers
        advance(Duration.ofSeconds(10));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.HEARTBEAT_TIMEOUT);
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).as("its Close cannot be flushed").isTrue();
        assertThat(actionCalls).isEmpty();
        advance(Duration.ofSeconds(10));
        assertThat(actionCalls).containsExactly(CloseReason.HEARTBEAT_TIMEOUT);
        assertThat(backend.isOpen()).isFalse();
    }

    // ---- close

    @Test
    void aClientCloseIsRelayedWithItsCodeAndTheReplyEndsBothLegs() {
        setUp(DEFAULTS);
        fromClient(new CloseWebSocketFrame(4000, "bye now"));
        assertClose(only(toBackend()), 4000, "bye now");
        assertThat(client.isOpen()).isTrue();
        fromBackend(new CloseWebSocketFrame(4000, "bye now"));
        assertClose(only(toClient()), 4000, "bye now");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aBackendCloseIsRelayedWithItsCodeAndTheReplyEndsBothLegs() {
        setUp(DEFAULTS);
        fromBackend(new TextWebSocketFrame("last words"), new CloseWebSocketFrame(1000, "done"));
        List<F> down = toClient();
        assertThat(down).extracting(F::kind).containsExactly("text", "close");
        assertClose(down.get(1), 1000, "done");
        // the client may still send data until it replies
        fromClient(new TextWebSocketFrame("late"), new CloseWebSocketFrame(1000, "done"));
        List<F> up = toBackend();
        assertThat(up).extracting(F::kind).containsExactly("text", "close");
        assertClose(up.get(1), 1000, "done");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_CLOSED);
    }

    @Test
    void noHeartbeatDuringTheCloseHandshakeAndAnUnansweredCloseIsBounded() {
        setUp(WebSocketSettings.builder().pingInterval(Duration.ofSeconds(1)).pingTimeout(Duration.ofSeconds(5))
                .build());
        fromClient(new CloseWebSocketFrame(1000, "bye"));
        assertClose(only(toBackend()), 1000, "bye");
        advance(Duration.ofSeconds(4));
        assertThat(toClient()).as("no pings once closing").isEmpty();
        assertThat(toBackend()).isEmpty();
        assertThat(client.isOpen()).isTrue();
        advance(Duration.ofSeconds(1));
        assertClose(only(toClient()), 1001, "close timeout");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aBackendConnectionEndingWithoutCloseSendsTheClient1001() {
        setUp(DEFAULTS);
        backend.close();
        assertClose(only(toClient()), 1001, "backend gone");
        assertThat(client.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_CLOSED);
    }

    @Test
    void aClientFinWithoutCloseSendsTheBackend1001() {
        setUp(DEFAULTS);
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertClose(only(toBackend()), 1001, "client gone");
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    // ---- protocol errors

    @Test
    void anOversizedClientFrameIsAProtocolErrorWith1009() {
        setUp(WebSocketSettings.builder().maxFrameSize(1000).build());
        fromClient(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[1000])));
        assertThat(only(toBackend()).data()).hasSize(1000);
        fromClient(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[1001])));
        assertClose(only(toClient()), 1009, "frame too big");
        assertClose(only(toBackend()), 1001, "client protocol error");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
    }

    @Test
    void anOversizedBackendFrameIsABackendProtocolError() {
        setUp(WebSocketSettings.builder().maxFrameSize(125).build());
        fromBackend(new TextWebSocketFrame("x".repeat(126)));
        assertClose(only(toBackend()), 1009, "frame too big");
        assertClose(only(toClient()), 1001, "backend protocol error");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_PROTOCOL_ERROR);
    }

    @Test
    void anUnmaskedClientFrameIsAProtocolError() {
        setUp(DEFAULTS);
        client.writeInbound(encode(false, new TextWebSocketFrame("unmasked")));
        assertClose(only(toClient()), 1002, "protocol error");
        assertClose(only(toBackend()), 1001, "client protocol error");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(client.isOpen()).isFalse();
        assertThat(backend.isOpen()).isFalse();
    }

    @Test
    void aMaskedBackendFrameIsABackendProtocolError() {
        setUp(DEFAULTS);
        backend.writeInbound(encode(true, new TextWebSocketFrame("masked")));
        assertClose(only(toBackend()), 1002, "protocol error");
        assertClose(only(toClient()), 1001, "backend protocol error");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_PROTOCOL_ERROR);
    }

    @Test
    void aContinuationWithoutAStartIsAProtocolError() {
        setUp(DEFAULTS);
        fromClient(new ContinuationWebSocketFrame(true, 0, "orphan"));
        assertClose(only(toClient()), 1002, "protocol error");
        assertThat(toBackend()).extracting(F::kind).containsExactly("close");
        assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
    }
}
