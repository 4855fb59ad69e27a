package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.BufferBudget;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;

/**
 * Netty's frame decoder, with the bytes it holds counted in the proxy's {@link BufferBudget}.
 *
 * <p>The decoder keeps a frame's bytes in its cumulation until the whole frame is there (up to
 * {@code maxFrameSize} plus its header). After each read the cumulation's capacity is the
 * holder's level; when the budget says stop, {@code onStop} pauses the leg, and the
 * holder's {@code onAvailable} resumes it. The holder is released when the decoder leaves the
 * pipeline or the channel goes inactive. Created per channel.
 */
final class BudgetedFrameDecoder extends WebSocket13FrameDecoder {
    private final BufferBudget.Holder holder;
    private final Runnable onStop;

    BudgetedFrameDecoder(WebSocketDecoderConfig config, BufferBudget.Holder holder, Runnable onStop) {
        super(config);
        this.holder = holder;
        this.onStop = onStop;
    }

    /** The budget stopped this leg at the last read: no read may be asked for until it resumes. */
    private boolean stopped;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        stopped = false; // a read came: the leg is being read again
        try {
            super.channelRead(ctx, msg);
        } finally {
            // The cumulation's capacity, not its readable bytes: that is the memory it pins (the
            // decoder grows it in powers of two while a frame builds up).
            if (!ctx.isRemoved() && !holder.hold(internalBuffer().capacity())) {
                stopped = true;
                onStop.run();
            }
        }
    }

    /**
     * Netty's decoder asks for another read when a read completed no frame and auto-read is off,
     * so that a frame split across reads can finish. That is right for a pause the other leg asks
     * for, but it would defeat the budget's: a client sending one huge frame would be read on and
     * on. While the budget has stopped this leg, the read completes without asking for more.
     */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        if (stopped) {
            ctx.fireChannelReadComplete();
            return;
        }
        super.channelReadComplete(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        holder.close();
        super.channelInactive(ctx);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
        holder.close();
        super.handlerRemoved0(ctx);
    }
}
