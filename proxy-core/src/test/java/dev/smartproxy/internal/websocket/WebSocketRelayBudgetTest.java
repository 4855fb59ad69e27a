package dev.smartproxy.internal.websocket;

import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * WebSocket frame reassembly under the proxy's buffer budget, on two {@link EmbeddedChannel}s:
 * partial frames are counted, a leg stops being read when the budget is full and resumes when
 * it has room, and everything is released when the frame completes or the legs close.
 */
class WebSocketRelayBudgetTest {
    private static final int KIB = 1024;
    private static final WebSocketSettings SETTINGS = WebSocketSettings.builder().pingInterval(Duration.ZERO)
            .build();

    private EmbeddedChannel client;
    private EmbeddedChannel backend;
    private ManagedConnection conn;
    private BufferBudget budget;

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.finishAndReleaseAll();
        }
        if (backend != null) {
            backend.finishAndReleaseAll();
        }
    }

    private void setUp(long limit) {
        conn = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM)
                .register(443, new InetSocketAddress("127.0.0.1", 4000));
        client = new EmbeddedChannel();
        backend = new EmbeddedChannel();
        client.freezeTime();
        backend.freezeTime();
        budget = new BufferBudget(limit);
        WebSocketRelay.install(client, backend, SETTINGS, conn, reason -> {
            client.close();
            backend.close();
        }, budget);
    }

    /** One masked binary frame of {@code size} bytes, as a client sends it. */
    private static ByteBuf clientFrame(int size) {
        EmbeddedChannel enc = new EmbeddedChannel(new WebSocket13FrameEncoder(true));
        enc.writeOutbound(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[size])));
        ByteBuf out = Unpooled.buffer();
        for (Object o; (o = enc.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            out.writeBytes(b);
            b.release();
        }
        enc.finishAndReleaseAll();
        return out;
    }

    /** Sizes of the frames the proxy relayed to the backend. */
    private List<Integer> relayedToBackend() {
        EmbeddedChannel dec = new EmbeddedChannel(new WebSocket13FrameDecoder(WebSocketDecoderConfig.newBuilder()
                .expectMaskedFrames(true).maxFramePayloadLength(64 * 1024 * 1024).build()));
        for (Object o; (o = backend.readOutbound()) != null; ) {
            dec.writeInbound(o);
        }
        List<Integer> sizes = new ArrayList<>();
        for (Object o; (o = dec.readInbound()) != null; ) {
            WebSocketFrame f = (WebSocketFrame) o;
            sizes.add(f.content().readableBytes());
            f.release();
        }
        dec.finishAndReleaseAll();
        return sizes;
    }

    /** Another connection's holder, on the client's loop, that fills the budget. */
    private BufferBudget.Holder fill(long bytes) {
        BufferBudget.Holder other = budget.holder(client.eventLoop(), null, () -> { });
        other.hold(bytes);
        return other;
    }

    @Test
    void aPartialFrameIsCountedUntilItCompletes() {
        setUp(Long.MAX_VALUE);
        ByteBuf frame = clientFrame(200 * KIB);
        int total = frame.readableBytes();
        client.writeInbound(frame.readRetainedSlice(150 * KIB));
        // the decoder has parsed the 14-byte header (2 + 8-byte length + 4-byte mask) and holds the payload so far
        // counted as the capacity of the decoder's buffer: at least the partial frame, at most twice it
        assertThat(conn.info().bufferedBytes()).as("the decoder holds the partial frame").isBetween(150L * KIB - 14, 300L * KIB);
        assertThat(budget.used()).isEqualTo(conn.info().bufferedBytes());
        assertThat(relayedToBackend()).isEmpty();
        client.writeInbound(frame);
        assertThat(relayedToBackend()).containsExactly(200 * KIB);
        assertThat(total).isGreaterThan(200 * KIB);
        assertThat(conn.info().bufferedBytes()).isZero();
        assertThat(budget.used()).isZero();
        assertThat(client.config().isAutoRead()).isTrue();
    }

    @Test
    void aLegAboveItsFloorStopsReadingWhenTheBudgetIsFullAndResumesWhenItHasRoom() {
        setUp(256 * KIB);
        BufferBudget.Holder others = fill(256 * KIB);
        ByteBuf frame = clientFrame(100 * KIB);
        client.writeInbound(frame.readRetainedSlice(BufferBudget.FLOOR));
        assertThat(client.config().isAutoRead()).as("within its floor").isTrue();
        client.writeInbound(frame.readRetainedSlice(16 * KIB));
        assertThat(client.config().isAutoRead()).as("above its floor, budget full: paused").isFalse();
        assertThat(client.isOpen()).as("backpressure, not a close").isTrue();
        assertThat(backend.config().isAutoRead()).as("the other leg reads on").isTrue();
        assertThat(budget.waiting()).isEqualTo(1);

        others.close();
        assertThat(client.config().isAutoRead()).as("resumed on its own loop, not inline").isFalse();
        client.runPendingTasks();
        assertThat(client.config().isAutoRead()).isTrue();
        client.writeInbound(frame);
        assertThat(relayedToBackend()).containsExactly(100 * KIB);
        assertThat(budget.used()).isZero();
    }

    @Test
    void theBudgetAndTheOtherLegsBackpressureMustBothAllowReading() {
        setUp(256 * KIB);
        boolean[] blockFlush = {true};
        backend.config().setWriteBufferWaterMark(new WriteBufferWaterMark(8, 16));
        backend.pipeline().addFirst("stuck", new ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(ChannelHandlerContext ctx) {
                if (!blockFlush[0]) {
                    ctx.flush();
                }
            }
        });
        ByteBuf first = clientFrame(64);
        client.writeInbound(first); // relayed, but the backend cannot take it: client reads paused
        assertThat(client.config().isAutoRead()).isFalse();
        BufferBudget.Holder others = fill(256 * KIB);
        ByteBuf frame = clientFrame(100 * KIB);
        client.writeInbound(frame.readRetainedSlice(32 * KIB)); // bytes already read still arrive
        assertThat(budget.waiting()).isEqualTo(1);

        blockFlush[0] = false;
        backend.flush();
        backend.runPendingTasks();
        assertThat(backend.isWritable()).isTrue();
        assertThat(client.config().isAutoRead()).as("writable again, but the budget is still full").isFalse();
        others.close();
        client.runPendingTasks();
        assertThat(client.config().isAutoRead()).isTrue();
        client.writeInbound(frame);
        assertThat(relayedToBackend()).containsExactly(64, 100 * KIB);
        assertThat(budget.used()).isZero();
    }

    @Test
    void closingTheLegsReleasesAPartialFrameOnce() {
        setUp(Long.MAX_VALUE);
        ByteBuf frame = clientFrame(100 * KIB);
        client.writeInbound(frame.readRetainedSlice(60 * KIB));
        frame.release();
        backend.writeInbound(Unpooled.wrappedBuffer(new byte[] {(byte) 0x82, 126, 0x10, 0})); // a 4 KiB frame's header
        backend.writeInbound(Unpooled.wrappedBuffer(new byte[1000]));
        assertThat(budget.used()).as("payloads so far, headers parsed").isBetween(60L * KIB - 14 + 1000, 2L * (60 * KIB + 1000));
        assertThat(conn.info().bufferedBytes()).isEqualTo(budget.used());
        client.close();
        backend.close();
        client.runPendingTasks();
        backend.runPendingTasks();
        assertThat(budget.used()).isZero();
        assertThat(conn.info().bufferedBytes()).isZero();
    }
}
