package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;

/**
 * Relays a backend's response to the client as the bytes it came in, without decoding it into
 * Netty's HTTP objects and encoding it again, wherever that is safe: the response to a request
 * that is not HEAD, not an upgrade and not HTTP/1.0, with no interim response before it, whose
 * head {@link ResponseScan} takes whole from one read. Everything else goes through the decoder
 * and {@link BackendLeg#relay} exactly as before, including every refusal.
 *
 * <p>The head goes out with only the hop-by-hop lines left out and, when the client's connection
 * is to close after it, {@code connection: close} added (spelled as the encoder spells it): the rewriting {@link ResponseHeads#prepareFinal}
 * does for such a head (nothing else of it applies: the body is framed, the client speaks
 * HTTP/1.1). The body is counted off its Content-Length, or its chunked framing is read in place
 * and relayed as it came (chunk sizes below 2^31, leading zeros allowed, extensions after a {@code ;} as
 * the decoder takes them, CRLF after each chunk's data); a trailer section is checked line by line
 * and loses Content-Length, Transfer-Encoding and Trailer, as the decoder drops them. A framing
 * error in the middle of a body is the backend breaking HTTP ({@link BackendLeg.Listener#legBroken}),
 * as it is for the decoder. The exchange ends where the decoded path ends it: the same fields of the
 * {@link Exchange}, the same flush, {@link BackendLeg.Listener#legResponseComplete}, the same
 * pause while the client is full. Both codecs are told ({@link BackendCodec#rawResponse},
 * {@link ServerCodec#rawResponse}), so their request/response pairing stays right for the
 * responses that are decoded.
 *
 * <p>One per backend leg; event-loop confined.
 */
final class RawRelay implements BackendCodec.Raw {
    /** Body bytes copied together with an edited head (one buffer, one write) rather than sliced. */
    private static final int COPY_BODY = 1024;
    private static final byte[] CONNECTION_CLOSE = "connection: close\r\n".getBytes(StandardCharsets.US_ASCII);

    // The chunked framing, where the next byte belongs.
    private static final int SIZE = 0;
    /** Whitespace after the size: an extension must follow. */
    private static final int SIZE_SPACE = 1;
    private static final int EXTENSION = 2;
    private static final int SIZE_LF = 3;
    private static final int DATA = 4;
    private static final int DATA_CR = 5;
    private static final int DATA_LF = 6;
    /** After the last chunk's size line: the final CRLF, or trailer lines. */
    private static final int LAST = 7;
    private static final int LAST_LF = 8;
    /** Trailer lines, gathered whole in {@link #trailers}. */
    private static final int TRAILERS = 9;
    private static final int DONE = 10;

    private final BackendLeg leg;
    private final int maxLine;
    private final int maxTrailers;
    private final ResponseScan scan = new ResponseScan();
    private BackendCodec codec;
    /** The exchange whose body is being relayed; null between responses. */
    private Exchange ex;
    private ServerCodec sink;
    private boolean chunked;
    /** Content-Length: body bytes still to come. Chunked: data bytes left of the chunk being read. */
    private long left;
    private int state;
    private int lineLength;
    private int digits;
    private ByteBuf trailers;
    /** Why the framing is broken; null while it is not. */
    private String broken;

    /**
     * @param maxLine     the longest chunk-size line taken, as the decoder's line limit
     * @param maxTrailers the largest trailer section taken, as the decoder's header limit
     */
    RawRelay(BackendLeg leg, int maxLine, int maxTrailers) {
        this.leg = leg;
        this.maxLine = maxLine;
        this.maxTrailers = maxTrailers;
    }

    void codec(BackendCodec codec) {
        this.codec = codec;
    }

    @Override
    public ByteBuf rawRead(ByteBuf in) {
        if (ex != null) {
            return body(in);
        }
        BackendLeg.Listener l = leg.listener();
        Exchange e = l.exchangeFor(leg);
        if (e == null || e.head || e.upgrade || e.http10 || e.responseStarted || e.interimHeads != 0 || e.local) {
            return null;
        }
        ServerCodec s = l.clientCodec();
        if (s == null || !s.rawAllowed() || !scan.scan(in, in.readerIndex(), in.writerIndex())) {
            return null;
        }
        return head(e, s, in, l.clientClosing());
    }

    private ByteBuf head(Exchange e, ServerCodec s, ByteBuf in, boolean clientClosing) {
        int from = in.readerIndex();
        int headEnd = scan.headEnd;
        int end = headEnd;
        ex = e;
        chunked = scan.chunked;
        if (chunked) {
            state = SIZE;
            lineLength = 0;
            digits = 0;
            left = 0;
            long before = e.responseBytes;
            end = frame(in, headEnd, in.writerIndex());
            if (broken != null) {
                // Broken in the first read: nothing is relayed yet, so the decoder takes the whole
                // response and refuses it as it always did.
                e.responseBytes = before;
                ex = null;
                broken = null;
                return null;
            }
        }
        boolean close = !e.clientKeepAlive || e.closeAfter || clientClosing;
        e.cancelTimer();
        e.backendKeepAlive = !scan.close;
        codec.rawResponse();
        s.rawResponse();
        e.responseStarted = true;
        e.status = scan.status;
        e.headNanos = System.nanoTime();
        sink = s;
        if (!chunked) {
            left = scan.contentLength;
            end = headEnd + (int) Math.min(left, in.writerIndex() - headEnd);
            e.responseBytes += end - headEnd;
            left -= end - headEnd;
            state = left == 0 ? DONE : DATA;
        }
        boolean whole = end == in.writerIndex();
        boolean headAlone = end == headEnd && state != DONE;
        ByteBuf rest = in;
        if (scan.dropCount == 0 && !close) {
            // As it came: the read itself, or a slice of it.
            ByteBuf out = whole ? in : in.readRetainedSlice(end - from);
            if (whole) {
                rest = Unpooled.EMPTY_BUFFER;
            }
            leg.rawToClient(s, out, headAlone);
        } else {
            int copyEnd = end - headEnd <= COPY_BODY ? end : headEnd;
            int size = copyEnd - from + (close ? CONNECTION_CLOSE.length : 0);
            ByteBuf out = leg.channel().alloc().buffer(size);
            int pos = from;
            int[] drops = scan.drops;
            for (int k = 0; k < scan.dropCount; k++) {
                out.writeBytes(in, pos, drops[2 * k] - pos);
                pos = drops[2 * k + 1];
            }
            if (close) {
                out.writeBytes(in, pos, headEnd - 2 - pos);
                out.writeBytes(CONNECTION_CLOSE);
                pos = headEnd - 2;
            }
            out.writeBytes(in, pos, copyEnd - pos);
            in.readerIndex(copyEnd);
            leg.rawToClient(s, out, headAlone || (copyEnd == headEnd && end > headEnd));
            if (copyEnd < end) {
                ByteBuf part = whole ? in : in.readRetainedSlice(end - copyEnd);
                if (whole) {
                    rest = Unpooled.EMPTY_BUFFER;
                }
                leg.rawToClient(s, part, false);
            }
        }
        return after(e, rest);
    }

    /** A read in the middle of a body. */
    private ByteBuf body(ByteBuf in) {
        Exchange e = ex;
        BackendLeg.Listener l = leg.listener();
        if (l.exchangeFor(leg) != e) {
            // No longer the exchange in flight (the client connection is closing): handled as a
            // decoded part of it would be, dropped (and an idle leg that sends it, closed).
            reset();
            l.legRead(leg, in);
            return Unpooled.EMPTY_BUFFER;
        }
        int from = in.readerIndex();
        int to = in.writerIndex();
        int end;
        if (state == TRAILERS) {
            end = from;
        } else if (chunked) {
            end = frame(in, from, to);
            if (broken != null) {
                if (end > from) { // what came before the error goes out, as the decoder's content would
                    leg.rawToClient(sink, in.readRetainedSlice(end - from), false);
                }
                return fail(in);
            }
        } else {
            end = from + (int) Math.min(left, to - from);
            left -= end - from;
            e.responseBytes += end - from;
            if (left == 0) {
                state = DONE;
            }
        }
        ByteBuf rest = in;
        if (end > from) {
            if (end == to) {
                leg.rawToClient(sink, in, false);
                rest = Unpooled.EMPTY_BUFFER;
            } else {
                leg.rawToClient(sink, in.readRetainedSlice(end - from), false);
            }
        }
        return after(e, rest);
    }

    /** After the verbatim part of a read: trailer lines, the end of the response, the pause. */
    private ByteBuf after(Exchange e, ByteBuf rest) {
        if (state == TRAILERS && rest.isReadable()) {
            gatherTrailers(rest);
            if (broken != null) {
                return fail(rest);
            }
        }
        leg.pauseIfClientFull();
        if (state == DONE) {
            reset();
            e.responseComplete = true;
            leg.flushClient();
            leg.listener().legResponseComplete(leg);
        }
        return rest;
    }

    /**
     * Reads the chunked framing over {@code in[i, to)}; returns where the bytes that go out as
     * they came end: {@code to}, the end of the response, or the start of trailer lines. Sets
     * {@link #broken} on a framing error.
     */
    private int frame(ByteBuf in, int i, int to) {
        Exchange e = ex;
        while (i < to) {
            switch (state) {
                case DATA -> {
                    int n = (int) Math.min(left, to - i);
                    i += n;
                    left -= n;
                    e.responseBytes += n;
                    if (left == 0) {
                        state = DATA_CR;
                    }
                }
                case DATA_CR, LAST -> {
                    if (in.getByte(i) != '\r') {
                        if (state == LAST) {
                            state = TRAILERS;
                            return i;
                        }
                        return brokenAt(i, "no CRLF after chunk data");
                    }
                    state = state == LAST ? LAST_LF : DATA_LF;
                    i++;
                }
                case DATA_LF, LAST_LF -> {
                    if (in.getByte(i) != '\n') {
                        return brokenAt(i, "no CRLF after chunk data");
                    }
                    i++;
                    if (state == LAST_LF) {
                        state = DONE;
                        return i;
                    }
                    state = SIZE;
                    lineLength = 0;
                    digits = 0;
                }
                case SIZE_LF -> {
                    if (in.getByte(i) != '\n') {
                        return brokenAt(i, "bare CR in a chunk size line");
                    }
                    i++;
                    state = left == 0 ? LAST : DATA;
                }
                default -> { // SIZE, SIZE_SPACE, EXTENSION: one line
                    if (++lineLength > maxLine) {
                        return brokenAt(i, "chunk size line longer than " + maxLine);
                    }
                    byte b = in.getByte(i);
                    int h = state == SIZE ? hex(b) : -1;
                    if (h >= 0) {
                        digits++; // leading zeros are digits too (RFC 9112: 1*HEXDIG); the value alone is bounded
                        if ((left = left * 16 + h) > Integer.MAX_VALUE) {
                            return brokenAt(i, "chunk size overflow");
                        }
                    } else if (b == '\r' && state != SIZE_SPACE && digits > 0) {
                        state = SIZE_LF;
                    } else if (state == EXTENSION) {
                        if ((b < 0x20 && b >= 0 && b != '\t') || b == 0x7f) {
                            return brokenAt(i, "invalid character in a chunk extension");
                        }
                    } else if (digits == 0) {
                        return brokenAt(i, "empty chunk size");
                    } else if (b == ';') {
                        state = EXTENSION;
                    } else if (b == ' ' || b == '\t') {
                        state = SIZE_SPACE;
                    } else {
                        return brokenAt(i, "invalid character in a chunk size");
                    }
                    i++;
                }
            }
        }
        return i;
    }

    private int brokenAt(int i, String why) {
        broken = why;
        return i;
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }

    /**
     * Gathers trailer lines from {@code in} up to the blank line that ends them (the rest stays
     * in {@code in}); once whole, writes them to the client without the lines the decoder drops.
     */
    private void gatherTrailers(ByteBuf in) {
        if (trailers == null) {
            trailers = leg.channel().alloc().heapBuffer(256);
        }
        int end = -1;
        int i = in.readerIndex();
        int to = in.writerIndex();
        for (; i < to; i++) {
            byte b = in.getByte(i);
            if (b == '\n') {
                int n = trailers.writerIndex() + (i - in.readerIndex());
                // the blank line: "\r\n" right after the previous line's "\r\n"
                byte p1 = n >= 1 ? byteBefore(in, i, 1) : 0;
                byte p2 = n >= 2 ? byteBefore(in, i, 2) : 0;
                byte p3 = n >= 3 ? byteBefore(in, i, 3) : 0;
                if (p1 == '\r' && p2 == '\n' && p3 == '\r') {
                    end = i + 1;
                    break;
                }
            }
        }
        int take = (end < 0 ? to : end) - in.readerIndex();
        if (trailers.readableBytes() + take > maxTrailers) {
            broken = "trailers larger than " + maxTrailers + " bytes";
            return;
        }
        trailers.writeBytes(in, take);
        if (end < 0) {
            return;
        }
        ByteBuf out = leg.channel().alloc().buffer(trailers.readableBytes());
        int pos = trailers.readerIndex();
        int limit = trailers.writerIndex() - 2;
        while (pos < limit) {
            int lineEnd = ResponseScan.headerLine(trailers, pos, limit + 2);
            if (lineEnd < 0) {
                out.release();
                broken = "invalid trailer line";
                return;
            }
            int nameLen = trailers.indexOf(pos, lineEnd, (byte) ':') - pos;
            if (!dropped(trailers, pos, nameLen)) {
                out.writeBytes(trailers, pos, lineEnd - pos);
            }
            pos = lineEnd;
        }
        out.writeByte('\r').writeByte('\n');
        trailers.release();
        trailers = null;
        leg.rawToClient(sink, out, false);
        state = DONE;
    }

    /** The byte {@code back} bytes before {@code in[i]}, counting into the trailers gathered so far. */
    private byte byteBefore(ByteBuf in, int i, int back) {
        int j = i - back;
        if (j >= in.readerIndex()) {
            return in.getByte(j);
        }
        return trailers.getByte(trailers.writerIndex() - (in.readerIndex() - j));
    }

    /** Trailer fields the decoder drops: they would frame, or announce framing. */
    private static boolean dropped(ByteBuf b, int at, int nameLen) {
        return (nameLen == 14 && ResponseScan.is(b, at, "content-length"))
                || (nameLen == 17 && ResponseScan.is(b, at, "transfer-encoding"))
                || (nameLen == 7 && ResponseScan.is(b, at, "trailer"));
    }

    /** The backend broke the framing: nothing more of the read goes out, and the exchange is told. */
    private ByteBuf fail(ByteBuf in) {
        String why = broken;
        reset();
        in.skipBytes(in.readableBytes());
        leg.listener().legBroken(leg, "invalid chunked body: " + why);
        return in;
    }

    @Override
    public void dispose() {
        reset();
    }

    private void reset() {
        ex = null;
        sink = null;
        broken = null;
        if (trailers != null) {
            trailers.release();
            trailers = null;
        }
    }
}
