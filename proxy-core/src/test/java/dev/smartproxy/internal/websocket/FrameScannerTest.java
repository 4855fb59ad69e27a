package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.BufferBudget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link FrameScanner} alone, on an {@link EmbeddedChannel} with a recording sink: frames are
 * built byte by byte here (not with Netty's encoder), so lengths, masks and header encodings are
 * exactly the ones under test, and the relayed bytes are compared with the bytes sent.
 */
class FrameScannerTest {
    private static final int MAX = 1 << 20;

    private EmbeddedChannel ch;
    private BufferBudget budget;
    private BufferBudget.Holder holder;
    private final Recorder sink = new Recorder();
    private final List<Throwable> errors = new ArrayList<>();
    private int stops;

    /** Everything the sink received, in order. */
    static final class Recorder implements FrameScanner.Sink {
        final ByteArrayOutputStream relayed = new ByteArrayOutputStream();
        final List<String> events = new ArrayList<>();
        int messages;
        long payloadBytes;
        int writes;

        @Override
        public void frames(ByteBuf frames, int messages, int payloadBytes) {
            writes++;
            this.messages += messages;
            this.payloadBytes += payloadBytes;
            relayed.writeBytes(ByteBufUtil.getBytes(frames));
            events.add("frames");
            frames.release();
        }

        @Override
        public void pong(ByteBuf frame, byte[] payload) {
            relayed.writeBytes(ByteBufUtil.getBytes(frame));
            events.add("pong:" + new String(payload, StandardCharsets.UTF_8));
            frame.release();
        }

        @Override
        public void close(ByteBuf frame, byte[] payload) {
            relayed.writeBytes(ByteBufUtil.getBytes(frame));
            int code = payload.length < 2 ? 0 : ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
            events.add("close:" + code + ":" + (payload.length > 2
                    ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : ""));
            frame.release();
        }
    }

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private void setUp(boolean masked, int max) {
        budget = new BufferBudget(Long.MAX_VALUE);
        ch = new EmbeddedChannel();
        holder = budget.holder(ch.eventLoop(), null, () -> { });
        ch.pipeline().addLast(new FrameScanner(masked, max, holder, () -> stops++, () -> { }, sink));
        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                errors.add(cause);
            }
        });
    }

    // ---- frame builder

    private static final Random RANDOM = new Random(42);

    /** One frame: FIN and RSV bits in {@code first} (with the opcode), the payload masked with a random key if asked. */
    static byte[] frame(int first, boolean mask, byte[] payload) {
        return frame(first, mask, payload, -1);
    }

    /** As {@link #frame(int, boolean, byte[])}, with the length encoded in {@code lengthBytes} (0, 2, 8; -1: minimal). */
    static byte[] frame(int first, boolean mask, byte[] payload, int lengthBytes) {
        ByteBuf b = Unpooled.buffer();
        b.writeByte(first);
        int n = payload.length;
        int ext = lengthBytes >= 0 ? lengthBytes : n < 126 ? 0 : n <= 0xffff ? 2 : 8;
        int m = mask ? 0x80 : 0;
        if (ext == 0) {
            b.writeByte(m | n);
        } else if (ext == 2) {
            b.writeByte(m | 126).writeShort(n);
        } else {
            b.writeByte(m | 127).writeLong(n);
        }
        byte[] body = payload.clone();
        if (mask) {
            byte[] key = new byte[4];
            RANDOM.nextBytes(key);
            b.writeBytes(key);
            for (int i = 0; i < body.length; i++) {
                body[i] ^= key[i & 3];
            }
        }
        b.writeBytes(body);
        byte[] out = ByteBufUtil.getBytes(b);
        b.release();
        return out;
    }

    static byte[] text(boolean fin, boolean mask, String s) {
        return frame((fin ? 0x80 : 0) | 1, mask, s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] binary(boolean mask, int size) {
        byte[] p = new byte[size];
        RANDOM.nextBytes(p);
        return frame(0x82, mask, p);
    }

    static byte[] cont(boolean fin, boolean mask, String s) {
        return frame((fin ? 0x80 : 0), mask, s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] ping(boolean mask, String s) {
        return frame(0x89, mask, s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] pong(boolean mask, String s) {
        return frame(0x8a, mask, s.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] close(boolean mask, int code, String reason) {
        byte[] r = reason.getBytes(StandardCharsets.UTF_8);
        byte[] p = new byte[2 + r.length];
        p[0] = (byte) (code >> 8);
        p[1] = (byte) code;
        System.arraycopy(r, 0, p, 2, r.length);
        return frame(0x88, mask, p);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private void feed(byte[] bytes, int from, int to) {
        if (to > from) {
            ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(bytes, from, to)));
        }
    }

    // ---- tests

    /** Text "hel", a ping, continuation "lo" (final), a binary of 0, 125, 126, 200, a pong, a close. */
    private static byte[] mixedStream(boolean mask) {
        return concat(text(false, mask, "hel"), ping(mask, "p1"), cont(true, mask, "lo"), binary(mask, 0),
                binary(mask, 125), binary(mask, 126), binary(mask, 200), pong(mask, "q1"),
                close(mask, 1000, "bye"));
    }

    @Test
    void framesSplitIntoTwoReadsAtEveryByteBoundaryAreRelayedByteForByte() {
        for (boolean mask : new boolean[]{true, false}) {
            byte[] stream = mixedStream(mask);
            for (int cut = 0; cut <= stream.length; cut++) {
                sink.relayed.reset();
                sink.events.clear();
                sink.messages = 0;
                sink.payloadBytes = 0;
                setUp(mask, MAX);
                feed(stream, 0, cut);
                feed(stream, cut, stream.length);
                assertThat(errors).as("cut at %d", cut).isEmpty();
                assertThat(sink.relayed.toByteArray()).as("cut at %d", cut).isEqualTo(stream);
                assertThat(sink.messages).as("text + 4 binaries").isEqualTo(5);
                assertThat(sink.payloadBytes).as("data and ping payloads").isEqualTo(3 + 2 + 2 + 125 + 126 + 200);
                assertThat(sink.events).filteredOn(e -> !e.equals("frames")).containsExactly("pong:q1", "close:1000:bye");
                assertThat(budget.used()).isZero();
                ch.finishAndReleaseAll();
                ch = null;
            }
        }
    }

    @Test
    void largeFramesReadInPiecesCutAtEveryByteAroundTheirHeadersIncludingSixteenAndSixtyFourBitLengths() {
        for (boolean mask : new boolean[]{true, false}) {
            byte[][] frames = {binary(mask, 0), binary(mask, 125), binary(mask, 126), binary(mask, 65535),
                    binary(mask, 65536), pong(mask, "x"), mixedStream(mask)};
            byte[] stream = concat(frames);
            // one byte per read from 16 bytes before each frame starts to 16 bytes after (so every
            // header, and every payload edge, is cut everywhere); 997-byte reads in between
            java.util.TreeSet<Integer> cuts = new java.util.TreeSet<>();
            int at = 0;
            for (byte[] f : frames) {
                for (int i = Math.max(0, at - 16); i <= Math.min(stream.length, at + 16); i++) {
                    cuts.add(i);
                }
                at += f.length;
            }
            for (int i = 0; i < stream.length; i += 997) {
                cuts.add(i);
            }
            cuts.add(stream.length);
            sink.relayed.reset();
            sink.events.clear();
            sink.messages = 0;
            sink.payloadBytes = 0;
            setUp(mask, MAX);
            int from = 0;
            for (int cut : cuts) {
                feed(stream, from, cut);
                from = Math.max(from, cut);
            }
            assertThat(errors).isEmpty();
            assertThat(sink.relayed.toByteArray()).isEqualTo(stream);
            assertThat(sink.messages).isEqualTo(5 + 5);
            assertThat(sink.payloadBytes).isEqualTo(125 + 126 + 65535 + 65536 + 3 + 2 + 2 + 125 + 126 + 200);
            assertThat(budget.used()).isZero();
            ch.finishAndReleaseAll();
            ch = null;
        }
    }

    @Test
    void lengthsAreReadFromSevenSixteenAndSixtyFourBitFieldsMaskedOrNot() {
        for (boolean mask : new boolean[]{true, false}) {
            for (int size : new int[]{0, 125, 126, 65535, 65536}) {
                setUp(mask, MAX);
                byte[] f = binary(mask, size);
                int expectedHeader = 2 + (size < 126 ? 0 : size <= 0xffff ? 2 : 8) + (mask ? 4 : 0);
                assertThat(f).hasSize(expectedHeader + size);
                long before = sink.payloadBytes;
                int writes = sink.writes;
                feed(f, 0, f.length);
                assertThat(errors).isEmpty();
                assertThat(sink.payloadBytes - before).as("%d bytes, mask %s", size, mask).isEqualTo(size);
                assertThat(sink.writes - writes).as("a read of whole frames is one write").isEqualTo(1);
                ch.finishAndReleaseAll();
                ch = null;
            }
        }
    }

    @Test
    void manyWholeFramesInOneReadGoOnAsTheReadItself() {
        setUp(true, MAX);
        byte[] stream = concat(text(true, true, "a"), text(true, true, "b"), ping(true, "c"), text(true, true, "d"));
        ByteBuf read = Unpooled.wrappedBuffer(stream);
        ch.writeInbound(read);
        assertThat(sink.writes).isEqualTo(1);
        assertThat(sink.messages).isEqualTo(3);
        assertThat(sink.relayed.toByteArray()).isEqualTo(stream);
        assertThat(read.refCnt()).as("released by the sink, not copied").isZero();
    }

    @Test
    void framesInAMostlyEmptyReadBufferAreCopiedOutNotPinningIt() {
        setUp(true, MAX);
        byte[] stream = concat(text(true, true, "a"), pong(true, "q"), text(true, true, "b"));
        ByteBuf read = Unpooled.directBuffer(64 * 1024).writeBytes(stream);
        List<Integer> capacities = new ArrayList<>();
        ch.pipeline().remove(FrameScanner.class);
        ch.pipeline().addFirst(new FrameScanner(true, MAX, holder, () -> stops++, () -> { }, new FrameScanner.Sink() {
            @Override
            public void frames(ByteBuf frames, int messages, int payloadBytes) {
                capacities.add(frames.capacity());
                sink.frames(frames, messages, payloadBytes);
            }

            @Override
            public void pong(ByteBuf frame, byte[] payload) {
                capacities.add(frame.capacity());
                sink.pong(frame, payload);
            }

            @Override
            public void close(ByteBuf frame, byte[] payload) {
                sink.close(frame, payload);
            }
        }));
        ch.writeInbound(read);
        assertThat(sink.relayed.toByteArray()).isEqualTo(stream);
        assertThat(read.refCnt()).as("the 64 KiB read is released at once").isZero();
        assertThat(capacities).hasSize(3).allSatisfy(c -> assertThat(c).isLessThan(1024));
        assertThat(FrameScanner.sparse(Unpooled.buffer(2048).writeZero(300), 300)).isFalse();
    }

    @Test
    void controlFramesBetweenFragmentsAreAllowedAndAPongSplitsTheRun() {
        setUp(false, MAX);
        byte[] stream = concat(text(false, false, "a"), ping(false, "p"), cont(false, false, "b"), pong(false, "q"),
                cont(true, false, "c"), text(true, false, "next"));
        feed(stream, 0, stream.length);
        assertThat(errors).isEmpty();
        assertThat(sink.events).containsExactly("frames", "pong:q", "frames");
        assertThat(sink.messages).as("one fragmented message, one whole").isEqualTo(2);
        assertThat(sink.relayed.toByteArray()).isEqualTo(stream);
    }

    @Test
    void pongAndClosePayloadsAreUnmasked() {
        setUp(true, MAX);
        byte[] stream = concat(pong(true, "smartproxy-ping:1"), close(true, 4000, "ça va"));
        feed(stream, 0, stream.length);
        assertThat(sink.events).containsExactly("pong:smartproxy-ping:1", "close:4000:ça va");
        assertThat(sink.relayed.toByteArray()).as("the frames themselves still masked").isEqualTo(stream);
    }

    @Test
    void inputAfterACloseIsDiscarded() {
        setUp(false, MAX);
        byte[] stream = concat(text(true, false, "a"), close(false, 1000, ""), text(true, false, "after"));
        feed(stream, 0, stream.length);
        feed(text(true, false, "later"), 0, 7);
        assertThat(sink.events).containsExactly("frames", "close:1000:");
        assertThat(sink.messages).isEqualTo(1);
        assertThat(errors).isEmpty();
    }

    @Test
    void anEmptyCloseIsValid() {
        setUp(true, MAX);
        byte[] f = frame(0x88, true, new byte[0]);
        feed(f, 0, f.length);
        assertThat(sink.events).containsExactly("close:0:");
    }

    // ---- violations

    private CorruptedWebSocketFrameException onlyError() {
        assertThat(errors).hasSize(1);
        assertThat(errors.get(0)).isInstanceOf(CorruptedWebSocketFrameException.class);
        return (CorruptedWebSocketFrameException) errors.get(0);
    }

    private void assertViolation(boolean masked, byte[] bad, int status) {
        errors.clear();
        sink.events.clear();
        setUp(masked, 1000);
        byte[] good = masked ? text(true, true, "ok") : text(true, false, "ok");
        byte[] stream = concat(good, bad, good);
        feed(stream, 0, stream.length);
        assertThat(onlyError().closeStatus().code()).isEqualTo(status);
        assertThat(sink.events).as("the whole frames before it go first, nothing after").containsExactly("frames");
        feed(good, 0, good.length);
        assertThat(sink.events).as("input is discarded from then on").containsExactly("frames");
        ch.finishAndReleaseAll();
        ch = null;
    }

    @Test
    void protocolViolationsAre1002AfterTheFramesBeforeThem() {
        byte[] p = "x".getBytes(StandardCharsets.US_ASCII);
        assertViolation(true, text(true, false, "unmasked"), 1002);
        assertViolation(false, text(true, true, "masked"), 1002);
        assertViolation(true, frame(0x83, true, p), 1002); // reserved data opcode
        assertViolation(true, frame(0x8b, true, p), 1002); // reserved control opcode
        assertViolation(true, frame(0x09, true, p), 1002); // fragmented ping
        assertViolation(true, frame(0x89, true, new byte[126]), 1002); // control frame over 125
        assertViolation(true, frame(0x88, true, new byte[1]), 1002); // close with a 1-byte body
        assertViolation(true, close(true, 999, ""), 1002); // invalid status code
        assertViolation(true, close(true, 1005, ""), 1002); // a code never sent on the wire
        assertViolation(true, frame(0x88, true, new byte[]{0x03, (byte) 0xe8, (byte) 0xc3, 0x28}), 1007); // bad UTF-8
        assertViolation(true, cont(true, true, "orphan"), 1002);
        assertViolation(true, concat(text(false, true, "start"), text(true, true, "again")), 1002);
        assertViolation(true, frame(0x82, true, new byte[100], 2), 1002); // 16-bit length for 100
        assertViolation(false, frame(0x82, false, new byte[200], 8), 1002); // 64-bit length for 200
    }

    @Test
    void anOversizedFrameIs1009FromItsHeaderAlone() {
        setUp(false, 1000);
        byte[] ok = binary(false, 1000);
        feed(ok, 0, ok.length);
        assertThat(sink.payloadBytes).isEqualTo(1000);
        // only the header of a 2 MiB frame: refused before any payload is read or held
        ByteBuf header = Unpooled.buffer().writeByte(0x82).writeByte(127).writeLong(2L << 20);
        ch.writeInbound(header);
        assertThat(onlyError().closeStatus().code()).isEqualTo(1009);
        assertThat(budget.used()).isZero();
    }

    @Test
    void anOversizedFrameSplitInItsLengthFieldIsStill1009() {
        setUp(true, 1000);
        byte[] big = binary(true, 1001);
        feed(big, 0, 3); // one byte of the 16-bit length
        assertThat(errors).isEmpty();
        feed(big, 3, 4);
        assertThat(onlyError().closeStatus().code()).isEqualTo(1009);
    }

    @Test
    void aNegativeSixtyFourBitLengthIsAViolation() {
        setUp(false, MAX);
        ch.writeInbound(Unpooled.buffer().writeByte(0x82).writeByte(127).writeLong(-1L));
        assertThat(onlyError().closeStatus().code()).isEqualTo(1002);
    }

    // ---- partial frames and the budget

    @Test
    void aPartialFrameIsHeldAtItsOwnSizeAndReleasedOnceComplete() {
        setUp(true, MAX);
        byte[] a = text(true, true, "first");
        byte[] big = binary(true, 100_000);
        byte[] stream = concat(a, big, a);
        int cut = a.length + 40_000;
        feed(stream, 0, cut);
        assertThat(sink.messages).as("the whole frame before it went on").isEqualTo(1);
        assertThat(holder.held()).as("only the partial frame's bytes are held").isBetween(40_000L - 8, 80_000L);
        assertThat(budget.used()).isEqualTo(holder.held());
        feed(stream, cut, stream.length);
        assertThat(sink.messages).isEqualTo(3);
        assertThat(sink.relayed.toByteArray()).isEqualTo(stream);
        assertThat(holder.held()).isZero();
        assertThat(stops).isZero();
    }

    @Test
    void aPartialFrameIsReleasedWhenTheChannelCloses() {
        setUp(false, MAX);
        byte[] big = binary(false, 50_000);
        feed(big, 0, 30_000);
        assertThat(budget.used()).isPositive();
        ch.close();
        assertThat(budget.used()).isZero();
        assertThat(sink.events).isEmpty();
    }

    @Test
    void aPartialFrameIsReleasedWhenTheScannerLeavesThePipeline() {
        setUp(true, MAX);
        byte[] big = binary(true, 50_000);
        feed(big, 0, 30_000);
        assertThat(budget.used()).isPositive();
        ch.pipeline().removeFirst();
        assertThat(budget.used()).isZero();
    }
}
