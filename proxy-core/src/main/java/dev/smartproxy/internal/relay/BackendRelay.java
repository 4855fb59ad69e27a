package dev.smartproxy.internal.relay;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.metrics.BackendCounters;
import dev.smartproxy.internal.transport.BackendConnector;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.TimeUnit;

/**
 * The backend side of a connection: relays backend to client with backpressure and reports
 * FINs, resets and closes to the {@link TcpRelay}. Created per backend connection.
 *
 * <p>A reset can reach the proxy through a write as well as a read: when the backend resets
 * before the proxy's first bytes reach it, the write fails, the kernel hands the reset to that
 * write alone (later reads see a plain end of stream), and Netty closes the channel. Writes
 * made with the channel's void promise report such a failure through {@link #exceptionCaught};
 * the others (the bytes held during the connect, the flushes before a FIN or a close) are
 * watched here, so the reset is recorded and mirrored like any other.
 *
 * <p>The connect timeout is run here, not by the channel: a socket channel keeps its own
 * connect-timeout task (64 bytes) referenced for its whole life, cancelled but never dropped,
 * so every idle relay would hold one. This handler takes the connect timeout from the channel's
 * config when the connect starts (after name resolution, as the channel would) and fails the
 * connect with the same {@link ConnectTimeoutException}; its task is dropped once the connect ends.
 */
final class BackendRelay extends ChannelDuplexHandler implements ChannelFutureListener, BackendConnector.CountsOwnClose {
    private static final Logger log = LoggerFactory.getLogger(BackendRelay.class);

    private final ManagedConnection conn;
    private final TcpRelay clientSide;
    /** The backend's counters, once connected: the leg's close is counted there when it goes inactive. */
    private BackendCounters counters;

    /** Watches a write that is not made with the void promise (this handler is its own watcher). */
    @Override
    public void operationComplete(io.netty.channel.ChannelFuture f) {
        Throwable cause = f.cause();
        if (cause instanceof IOException && !(cause instanceof ClosedChannelException)) {
            backendFailed(cause);
            Legs.reset(f.channel()); // Netty closes it too; a no-op then
        }
    }

    BackendRelay(ManagedConnection conn, TcpRelay clientSide) {
        this.conn = conn;
        this.clientSide = clientSide;
    }

    /** Runs the connect timeout of the channel's config itself; see the class comment. */
    @Override
    public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise promise) {
        int millis = ctx.channel().config().getConnectTimeoutMillis();
        if (millis > 0) {
            ctx.channel().config().setConnectTimeoutMillis(0); // the channel schedules no task of its own
            ScheduledFuture<?> timeout = ctx.executor().schedule(() -> {
                if (promise.tryFailure(new ConnectTimeoutException(
                        "connection timed out after " + millis + " ms: " + remote))) {
                    ctx.channel().close();
                }
            }, millis, TimeUnit.MILLISECONDS);
            promise.addListener(f -> timeout.cancel(false));
        }
        ctx.connect(remote, local, promise);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!promise.isVoid()) {
            promise.addListener(this);
        }
        ctx.write(msg, promise);
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
        if (clientSide.countsClientBytes()) {
            conn.wroteToClient(buf.readableBytes()); // as the accept stage's counter did on its write
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
        if (cause instanceof IOException) {
            backendFailed(cause);
        } else {
            log.warn("{}unexpected error on the backend leg", conn.log(), cause);
            conn.closeReason(CloseReason.PROXY_ERROR);
        }
        Legs.reset(ctx.channel());
    }

    /** A socket error on the backend leg: recorded before the leg closes, so the client is reset. */
    private void backendFailed(Throwable cause) {
        log.debug("{}backend error: {}", conn.log(), cause.toString());
        conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.BACKEND));
    }

    @Override
    public void countCloseIn(BackendCounters counters) {
        this.counters = counters;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (counters != null) { // after the close future's listeners (the connection's close), as a listener would be
            counters.closed();
            counters = null;
        }
        conn.closeReason(CloseReason.BACKEND_CLOSED); // kept only if nothing else closed it first
        clientSide.backendGone(conn.closeReason() == CloseReason.BACKEND_RESET
                || conn.closeReason() == CloseReason.BACKEND_UNREACHABLE);
    }
}
