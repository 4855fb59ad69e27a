package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.BufferBudget;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The {@value WebSocketRelay#DECODER} of one leg: reads the leg's bytes as WebSocket frames
 * without decoding them, and hands on whole frames as the bytes they arrived as.
 *
 * <h2>What it looks at</h2>
 * Only frame headers (2 to 14 bytes): FIN, opcode, mask bit and length. Data frames and the
 * peer's Pings go on unread and unchanged, masked or not, several frames at a time as one buffer
 * (a slice of the read, or the read itself); client frames keep their mask, which is valid for
 * the backend since the proxy is the backend's client. Pongs and Closes, the frames the proxy
 * must see (its own heartbeat's answers, the close codes), are handed on one at a time with their
 * payload unmasked into a small array (at most 125 bytes). Nothing is ever decoded into frame
 * objects, unmasked or re-encoded, and the proxy's own frames never cut into a peer's frame: only
 * whole frames leave this handler, so anything the relay writes between them is at a frame
 * boundary.
 *
 * <h2>Checks</h2>
 * The same as a strict RFC 6455 decoder with extensions allowed (RSV bits pass, so
 * {@code permessage-deflate} negotiated by the peers works): the mask bit as the leg's role
 * requires, control frames final and at most 125 bytes, no reserved opcodes, continuations only
 * inside a fragmented message and data frames never inside one (control frames may come between
 * fragments), minimal length encoding, a Close body that is empty or a valid status code with a
 * UTF-8 reason, and a payload no larger than {@code maxFrameSize}, checked from the header before
 * the payload is read. A violation goes down the pipeline as a
 * {@link CorruptedWebSocketFrameException} (status 1009 for a frame too big, 1002 otherwise),
 * after the whole frames before it; from then on, as after a Close, input is discarded.
 *
 * <h2>Partial frames</h2>
 * A frame split across reads is gathered in a buffer of its own (only the bytes of that frame are
 * copied; the read's other frames go on as slices) and handed on once complete. The buffer's
 * capacity is this leg's level in the proxy's {@link BufferBudget}: above the budget's floor with
 * the budget full, {@code onStop} pauses the leg and the holder's {@code onAvailable} resumes it.
 * The holder is closed and the buffer released when the handler leaves the pipeline or the
 * channel goes inactive.
 *
 * <p>Created per channel; event loop only.
 */
final class FrameScanner extends ChannelInboundHandlerAdapter {
    static final int OP_CONTINUATION = 0;
    static final int OP_CLOSE = 8;
    static final int OP_PONG = 10;
    private static final int OP_PING = 9;
    private static final int MAX_CONTROL_PAYLOAD = 125;

    /** Where the frames go. */
    interface Sink {
        /**
         * Whole frames, in order, to relay unchanged; the buffer passes to the sink.
         *
         * @param messages     how many start a data message (text or binary opcode)
         * @param payloadBytes the sum of their payload lengths
         */
        void frames(ByteBuf frames, int messages, int payloadBytes);

        /** A whole Pong frame (passes to the sink) and its payload, unmasked. */
        void pong(ByteBuf frame, byte[] payload);

        /** A whole, valid Close frame (passes to the sink) and its payload, unmasked; no input is read after it. */
        void close(ByteBuf frame, byte[] payload);
    }

    private final boolean expectMasked;
    private final int maxFrameSize;
    private final BufferBudget.Holder holder;
    private final Runnable onStop;
    private final Runnable onResume;
    private final Sink sink;

    /** The start of a frame split across reads, else null. Holds nothing but that frame. */
    private ByteBuf partial;
    /** Inside a fragmented data message (a non-final text, binary or continuation frame was seen). */
    private boolean fragmented;
    /** A Close or a violation was read: the rest of the input is discarded. */
    private boolean done;
    /** The handler left the pipeline or the channel went inactive: nothing more is held. */
    private boolean released;
    /** The last {@code hold} said stop ({@code onStop} ran) and none has said go since. */
    private boolean stopped;

    /**
     * @param expectMasked whether the peer must mask its frames (the client leg)
     * @param maxFrameSize the largest payload accepted
     * @param holder       this leg's share of the buffer budget
     * @param onStop       called when the budget says stop reading
     * @param onResume     called when a later {@code hold} (a read that came while stopped: TLS records
     *                     already read, a read the TLS handler asked for) says go again: the holder's
     *                     {@code onAvailable} will not run then, as the holder is no longer stopped
     * @param sink         receives the frames
     */
    FrameScanner(boolean expectMasked, int maxFrameSize, BufferBudget.Holder holder, Runnable onStop,
                 Runnable onResume, Sink sink) {
        this.expectMasked = expectMasked;
        this.maxFrameSize = maxFrameSize;
        this.holder = holder;
        this.onStop = onStop;
        this.onResume = onResume;
        this.sink = sink;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            if (done || released) {
                in.release();
            } else if (partial != null) {
                ByteBuf p = partial;
                partial = null;
                complete(p, in);
                scan(ctx, p, true); // the whole frame (or a violation), else kept as the partial again
                if (partial == null && !done && in.isReadable()) {
                    scan(ctx, in, false);
                } else {
                    in.release();
                }
            } else {
                scan(ctx, in, false);
            }
        } finally {
            if (!ctx.isRemoved()) {
                long level = partial == null ? 0 : partial.capacity(); // the memory it pins
                if (level != 0 || holder.held() != 0) {
                    if (!holder.hold(level)) {
                        stopped = true;
                        onStop.run();
                    } else if (stopped) {
                        // Room came back before any wake-up: the holder, no longer stopped, will
                        // not call onAvailable, so the leg must resume here or never read again.
                        stopped = false;
                        onResume.run();
                    }
                }
            }
        }
    }

    /** Moves from {@code in} to {@code p} the bytes that complete the frame {@code p} starts, or all of {@code in}. */
    private void complete(ByteBuf p, ByteBuf in) {
        long need;
        while (in.isReadable() && (need = missing(p)) > 0) {
            p.writeBytes(in, (int) Math.min(need, in.readableBytes()));
        }
    }

    /** Bytes {@code b} lacks to hold a whole frame: 0 once it does, or once its length is known to be refused. */
    private long missing(ByteBuf b) {
        int avail = b.readableBytes();
        if (avail < 2) {
            return 2 - avail;
        }
        int b1 = b.getByte(b.readerIndex() + 1);
        int ext = extendedLengthBytes(b1);
        if (avail < 2 + ext) {
            return 2 + ext - avail;
        }
        long len = payloadLength(b, b.readerIndex(), b1, ext);
        if (len < 0 || len > maxFrameSize) {
            return 0;
        }
        return Math.max(0, headerLength(b1, ext) + len - avail);
    }

    /**
     * Hands on the whole frames of {@code buf} (which this owns) and keeps the start of a frame
     * split at its end as {@link #partial}; {@code buf} is passed on, released or kept.
     *
     * @param wasPartial whether {@code buf} is the earlier {@link #partial} (this handler's own buffer)
     */
    private void scan(ChannelHandlerContext ctx, ByteBuf buf, boolean wasPartial) {
        final int start = buf.readerIndex();
        final int end = buf.writerIndex();
        int p = start;
        int runStart = start;
        int messages = 0;
        int payloadBytes = 0;
        CorruptedWebSocketFrameException bad = null;
        boolean owned = true;
        try {
            while (!done) {
                int avail = end - p;
                if (avail < 2) {
                    break;
                }
                int b0 = buf.getByte(p);
                int b1 = buf.getByte(p + 1);
                int opcode = b0 & 0x0f;
                bad = checkStart(b0, b1, opcode);
                int ext = extendedLengthBytes(b1);
                if (bad != null || avail < 2 + ext) {
                    break;
                }
                long len = payloadLength(buf, p, b1, ext);
                bad = checkLength(ext, len);
                int header = headerLength(b1, ext);
                if (bad != null || avail < header + len) {
                    break;
                }
                int size = header + (int) len;
                if (opcode < OP_CLOSE) {
                    if (opcode != OP_CONTINUATION) {
                        messages++;
                    }
                    fragmented = (b0 & 0x80) == 0;
                } else if (opcode != OP_PING) {
                    byte[] data = unmaskedPayload(buf, p, header, (int) len, (b1 & 0x80) != 0);
                    if (opcode == OP_CLOSE && (bad = checkCloseBody(data)) != null) {
                        break;
                    }
                    // what came before goes first; then the frame the proxy must see, on its own
                    if (p > runStart) {
                        sink.frames(part(ctx, buf, runStart, p - runStart), messages, payloadBytes);
                    }
                    ByteBuf frame = part(ctx, buf, p, size);
                    p += size;
                    runStart = p;
                    messages = 0;
                    payloadBytes = 0;
                    if (opcode == OP_CLOSE) {
                        done = true;
                        sink.close(frame, data);
                    } else {
                        sink.pong(frame, data);
                    }
                    continue;
                }
                payloadBytes += (int) len;
                p += size;
            }
            if (p > runStart) {
                if (runStart == start && p == end && !sparse(buf, end - start)) {
                    owned = false;
                    sink.frames(buf, messages, payloadBytes);
                } else {
                    sink.frames(part(ctx, buf, runStart, p - runStart), messages, payloadBytes);
                }
            }
            if (bad != null) {
                done = true;
                ctx.fireExceptionCaught(bad);
            } else if (owned && !done && p < end) {
                if (released) {
                    done = true; // the channel went inactive while the frames were handed on
                } else if (wasPartial && p == start) {
                    partial = buf; // still incomplete: kept as it is
                    owned = false;
                } else {
                    ByteBuf copy = ctx.alloc().buffer(end - p);
                    copy.writeBytes(buf, p, end - p);
                    partial = copy;
                }
            }
        } finally {
            if (owned) {
                buf.release();
            }
        }
    }

    /**
     * Whether handing on {@code length} bytes of {@code buf} as it is would pin much more memory
     * than that: the other leg's outbound buffer counts only the bytes against its water marks.
     */
    static boolean sparse(ByteBuf buf, int length) {
        return buf.capacity() > 4 * length + 1024;
    }

    /** {@code [from, from + length)} of {@code buf}: a slice, or a copy where a slice would pin a sparse buffer. */
    private static ByteBuf part(ChannelHandlerContext ctx, ByteBuf buf, int from, int length) {
        if (sparse(buf, length)) {
            return ctx.alloc().buffer(length).writeBytes(buf, from, length);
        }
        return buf.retainedSlice(from, length);
    }

    private CorruptedWebSocketFrameException checkStart(int b0, int b1, int opcode) {
        boolean fin = (b0 & 0x80) != 0;
        if (((b1 & 0x80) != 0) != expectMasked) {
            return violation("received a frame that is not masked as expected");
        }
        if (opcode >= OP_CLOSE) {
            if (!fin) {
                return violation("fragmented control frame");
            }
            int len7 = b1 & 0x7f;
            if (len7 > MAX_CONTROL_PAYLOAD) {
                return violation("control frame with payload length > 125 octets");
            }
            if (opcode > OP_PONG) {
                return violation("control frame using reserved opcode " + opcode);
            }
            if (opcode == OP_CLOSE && len7 == 1) {
                return violation("received close control frame with payload len 1");
            }
        } else if (opcode > 2) {
            return violation("data frame using reserved opcode " + opcode);
        } else if (!fragmented && opcode == OP_CONTINUATION) {
            return violation("received continuation data frame outside fragmented message");
        } else if (fragmented && opcode != OP_CONTINUATION) {
            return violation("received non-continuation data frame while inside fragmented message");
        }
        return null;
    }

    private CorruptedWebSocketFrameException checkLength(int ext, long len) {
        if ((ext == 2 && len < 126) || (ext == 8 && len < 65536)) {
            return violation("invalid data frame length (not using minimal length encoding)");
        }
        if (len > maxFrameSize) {
            return new CorruptedWebSocketFrameException(WebSocketCloseStatus.MESSAGE_TOO_BIG,
                    "Max frame length of " + maxFrameSize + " has been exceeded.");
        }
        return null;
    }

    /** Empty, or a valid status code and a UTF-8 reason. */
    private static CorruptedWebSocketFrameException checkCloseBody(byte[] data) {
        if (data.length == 0) {
            return null;
        }
        short code = (short) (((data[0] & 0xff) << 8) | (data[1] & 0xff));
        if (!WebSocketCloseStatus.isValidStatusCode(code)) {
            return violation("Invalid close frame getStatus code: " + code);
        }
        if (data.length > 2) {
            try {
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(data, 2, data.length - 2));
            } catch (CharacterCodingException e) {
                return new CorruptedWebSocketFrameException(WebSocketCloseStatus.INVALID_PAYLOAD_DATA,
                        "bytes are not UTF-8");
            }
        }
        return null;
    }

    private static CorruptedWebSocketFrameException violation(String message) {
        return new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR, message);
    }

    /** 0, 2 or 8: the bytes of the extended payload length, from the header's second byte. */
    static int extendedLengthBytes(int b1) {
        int len7 = b1 & 0x7f;
        return len7 < 126 ? 0 : len7 == 126 ? 2 : 8;
    }

    /** The whole header: 2 bytes, the extended length, the mask key. */
    static int headerLength(int b1, int ext) {
        return 2 + ext + ((b1 & 0x80) != 0 ? 4 : 0);
    }

    /** The payload length of the frame at {@code p} (negative if a 64-bit length has its top bit set). */
    static long payloadLength(ByteBuf b, int p, int b1, int ext) {
        return ext == 0 ? b1 & 0x7f : ext == 2 ? b.getUnsignedShort(p + 2) : b.getLong(p + 2);
    }

    private static byte[] unmaskedPayload(ByteBuf b, int p, int header, int len, boolean masked) {
        byte[] data = new byte[len];
        b.getBytes(p + header, data);
        if (masked) {
            int key = p + header - 4;
            for (int i = 0; i < len; i++) {
                data[i] ^= b.getByte(key + (i & 3));
            }
        }
        return data;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        release();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void release() {
        released = true;
        holder.close();
        if (partial != null) {
            partial.release();
            partial = null;
        }
    }
}
