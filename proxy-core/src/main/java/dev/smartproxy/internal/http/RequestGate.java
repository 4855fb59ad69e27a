package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * Feeds a client's bytes to the HTTP decoder in slices, and only while the connection is being
 * read (auto-read on), so that pausing a client really pauses decoding.
 *
 * <p>Turning auto-read off stops the socket reads, but not the decoder: it would go on decoding
 * everything the last read brought, tens of kilobytes of pipelined requests, each of which the
 * proxy must then hold or answer into a client that reads nothing (and past 128 of them Netty's
 * {@code HttpServerCodec} gives up on the connection). This gate sits between TLS and the codec:
 * it passes at most {@value #SLICE} bytes at a time and, between slices, holds the rest (bytes
 * already read, so no new memory) until {@link #resume()} is called with auto-read back on. So
 * a paused connection holds at most one read of raw bytes and the requests decoded from one
 * slice.
 *
 * <p>A client FIN ({@link ChannelInputShutdownEvent}) is passed on only after the bytes before
 * it; on removal (a WebSocket upgrade) the held bytes go to whatever follows.
 *
 * <p>Created per connection; event-loop confined.
 */
public final class RequestGate extends ChannelInboundHandlerAdapter {
    /** The most bytes handed to the decoder at once: at most ~300 minimal requests. */
    static final int SLICE = 8 * 1024;

    private ChannelHandlerContext ctx;
    private ByteBuf held;
    private Object heldEvent;
    private boolean pumping;
    private boolean pumpScheduled;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (held == null && buf.readableBytes() <= SLICE) {
            ctx.fireChannelRead(buf); // the common case: one small read, passed as is
            return;
        }
        if (held == null) {
            held = buf;
        } else {
            held = ctx.alloc().compositeBuffer(Integer.MAX_VALUE).addComponents(true, held, buf);
        }
        pump();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent && held != null) {
            heldEvent = evt; // after the bytes that came before it
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Passes held bytes on again, if auto-read is on. Call after turning auto-read back on;
     * runs later on the event loop, never inside the caller.
     */
    public void resume() {
        if (held != null && !pumpScheduled) {
            pumpScheduled = true;
            ctx.executor().execute(() -> {
                pumpScheduled = false;
                pump();
            });
        }
    }

    private void pump() {
        if (pumping || ctx.isRemoved()) {
            return;
        }
        pumping = true;
        try {
            boolean passed = false;
            while (held != null && ctx.channel().config().isAutoRead()) {
                ByteBuf slice;
                if (held.readableBytes() <= SLICE) {
                    slice = held;
                    held = null;
                } else {
                    slice = held.readRetainedSlice(SLICE);
                }
                passed = true;
                ctx.fireChannelRead(slice);
                if (ctx.isRemoved()) {
                    return;
                }
            }
            if (passed) {
                ctx.fireChannelReadComplete();
            }
            if (held == null && heldEvent != null) {
                Object evt = heldEvent;
                heldEvent = null;
                ctx.fireUserEventTriggered(evt);
            }
        } finally {
            pumping = false;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        ByteBuf rest = held;
        held = null;
        if (rest != null) {
            if (ctx.channel().isActive()) {
                ctx.fireChannelRead(rest);
                ctx.fireChannelReadComplete();
            } else {
                rest.release();
            }
        }
        if (heldEvent != null) {
            Object evt = heldEvent;
            heldEvent = null;
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        ReferenceCountUtil.release(held);
        held = null;
        ctx.fireChannelInactive();
    }
}
