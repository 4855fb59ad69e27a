package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * The backend side of a connection: relays backend to client with backpressure and reports
 * FINs, resets and closes to the {@link ClientHandler}. Created per backend connection.
 */
final class BackendHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(BackendHandler.class);

    private final ManagedConnection conn;
    private final ClientHandler clientSide;

    BackendHandler(ManagedConnection conn, ClientHandler clientSide) {
        this.conn = conn;
        this.clientSide = clientSide;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        conn.readFromBackend(buf.readableBytes());
        Channel client = clientSide.client();
        if (!client.isActive()) {
            buf.release();
            return;
        }
        client.write(buf, client.voidPromise());
        if (!client.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        clientSide.client().flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            clientSide.backendWritable();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            conn.backendInputClosed();
            log.debug("{}backend sent FIN", conn.log());
            clientSide.propagateBackendFin();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        boolean io = cause instanceof IOException;
        if (io) {
            log.debug("{}backend error: {}", conn.log(), cause.toString());
        } else {
            log.warn("{}unexpected error on the backend leg", conn.log(), cause);
        }
        conn.closeReason(!io ? CloseReason.PROXY_ERROR
                : Relay.timedOut(cause) ? CloseReason.BACKEND_UNREACHABLE : CloseReason.BACKEND_RESET);
        Relay.reset(ctx.channel());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        conn.closeReason(CloseReason.BACKEND_CLOSED); // kept only if nothing else closed it first
        clientSide.backendGone(conn.closeReason() == CloseReason.BACKEND_RESET
                || conn.closeReason() == CloseReason.BACKEND_UNREACHABLE);
    }
}
