package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.BufferBudget;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;

/**
 * Netty's frame decoder, with the bytes it holds counted in the proxy's {@link BufferBudget}.
 *
 * <p>The decoder keeps a frame's bytes in its cumulation until the whole frame is there (up to
 * {@code maxFrameSize} plus its header). After each read the cumulation's readable bytes are
 * the holder's level; when the budget says stop, {@code onStop} pauses the leg, and the
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

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        try {
            super.channelRead(ctx, msg);
        } finally {
            if (!ctx.isRemoved() && !holder.hold(internalBuffer().readableBytes())) {
                onStop.run();
            }
        }
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
