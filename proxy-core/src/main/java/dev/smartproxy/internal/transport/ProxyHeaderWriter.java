package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.PipelineNames;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;

/**
 * Writes a backend connection's {@link ProxyHeader} before anything else, then leaves the
 * pipeline with its encoder. Sits nearest the head of the backend pipeline, before TLS, so the
 * header precedes the TLS handshake of a re-encrypting leg and every client byte of a relay.
 *
 * <p>The header goes out at the first of: the channel becoming active, the first write, the
 * first flush. The first write matters: Netty completes the connect future (whose listeners
 * flush a relay's pending client bytes) before it fires {@code channelActive}, so whatever the
 * connect listener writes passes here first and finds the header ahead of it. The header is not
 * a client byte (the byte counter counts reads only) and is a few dozen bytes queued like any
 * write, under the channel's water marks. Created per backend connection.
 */
final class ProxyHeaderWriter extends ChannelDuplexHandler {
    private final ProxyHeader header;
    private boolean sent;

    ProxyHeaderWriter(ProxyHeader header) {
        this.header = header;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        // Added when the channel registers, before it connects: the earliest event below sends.
        ctx.pipeline().addBefore(ctx.name(), PipelineNames.BACKEND_PROXY_HEADER_ENCODER, HAProxyMessageEncoder.INSTANCE);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (!sent) {
            send(ctx);
            ctx.flush();
        }
        ctx.fireChannelActive();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!sent && ctx.channel().isActive()) { // before the connect, the write fails at the head
            send(ctx);
        }
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (!sent && ctx.channel().isActive()) {
            send(ctx);
        }
        ctx.flush();
    }

    /** Writes the header through the encoder, then removes the encoder and this handler. */
    private void send(ChannelHandlerContext ctx) {
        sent = true;
        ctx.write(header.message()).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
        ctx.pipeline().remove(PipelineNames.BACKEND_PROXY_HEADER_ENCODER);
        ctx.pipeline().remove(this);
    }
}
