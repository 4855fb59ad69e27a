package dev.smartproxy.internal.relay;

import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.metrics.BackendCounters;
import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ProxyHeader;
import dev.smartproxy.internal.transport.ReadSizes;
import dev.smartproxy.route.ProxyProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The TCP relay: the branch of a forward route that relays bytes (passthrough and plain TCP).
 * It connects to the chosen target, holds the client's bytes (capped) while the connect is in
 * flight, relays each direction with backpressure, propagates half-close and mirrors resets, and
 * asks the connection record to close both legs when a timer expires.
 *
 * <p><b>One handler on both legs.</b> The same instance sits in the client channel's pipeline and
 * in the backend channel's ({@link Sharable}); each callback tells the legs apart by its
 * context's channel. The legs themselves are the connection record's
 * ({@link ManagedConnection#clientLeg()}, {@link ManagedConnection#backendLeg()}), so are its
 * flags ({@link ManagedConnection#handlerFlag}), and what only the connect needs (budget, pending
 * cap, PROXY header, the pending bytes) lives in a {@link Connecting} object that is dropped once
 * the connect ends: an idle relayed connection holds one object of 16 bytes here with compact
 * headers (24 without) instead of a handler per leg. It extends {@link PassingHandler} rather than
 * Netty's adapters, which keep a flag per handler.
 *
 * <p>Pending data (client bytes read while the backend connect is in flight) is capped per
 * connection by {@code maxPendingDataSize} and counted in the proxy's {@link BufferBudget}; at
 * either limit the client stops being read (auto-read off) until the connect completes or,
 * for the budget, until it has room again. The bytes are released from the budget when they
 * are written to the backend or dropped (connect failed, client closed, handler removed).
 *
 * <p>A reset can reach the proxy through a backend write as well as a read: when the backend
 * resets before the proxy's first bytes reach it, the write fails, the kernel hands the reset to
 * that write alone (later reads see a plain end of stream), and Netty closes the channel. Writes
 * made with the channel's void promise report such a failure through {@link #exceptionCaught};
 * the others on the backend leg (the bytes held during the connect, the flushes before a FIN or
 * a close) are watched here, so the reset is recorded and mirrored like any other.
 *
 * <p>The connect timeout is run here, not by the backend channel: a socket channel keeps its own
 * connect-timeout task (64 bytes) referenced for its whole life, cancelled but never dropped,
 * so every idle relay would hold one. This handler takes the connect timeout from the channel's
 * config when the connect starts (after name resolution, as the channel would) and fails the
 * connect with the same {@link ConnectTimeoutException}; its task is dropped once the connect ends.
 *
 * <p>Installed by the router once the connection is routed and registered (its client leg
 * watched), then {@link #connect started}; the bytes a ClientHello peek read arrive next, as
 * channel reads. Created per connection; runs on the client channel's event loop, which the
 * backend channel shares, so no state here needs synchronisation.
 * <pre>{@code
 * TcpRelay relay = new TcpRelay(conn, budget, policy.maxPendingDataSize(), action.sendProxyProtocol().orElse(null));
 * client.pipeline().addLast(PipelineNames.RELAY, relay);
 * relay.connect(connector, address, conn.policy().tcpKeepAlive(), registry);
 * }</pre>
 */
@ChannelHandler.Sharable
public final class TcpRelay extends PassingHandler
        implements ConnectionActions, ChannelFutureListener, BackendConnector.CountsOwnClose {
    private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);

    /** The largest pending cap honoured: 2 GiB less 16 MiB, room for any read past it. */
    static final int MAX_PENDING_CAP = Integer.MAX_VALUE - (16 << 20);

    /**
     * This handler counts the client's bytes (reads and writes): once the accept stage's byte
     * counter has left the pipeline ({@link #channelReadComplete}). Until then every byte that
     * reaches the relay passed the counter (the ClientHello a peek replays included), which counted it.
     */
    private static final int COUNTING = 0;
    /** The backend is connected and the pending bytes are written. */
    private static final int BACKEND_READY = 1;
    /** A FIN was sent to the backend. */
    private static final int BACKEND_OUTPUT_SHUT = 2;
    /** A FIN was sent to the client. */
    private static final int CLIENT_OUTPUT_SHUT = 3;

    private final ManagedConnection conn;
    /**
     * While the connect is in flight, a {@link Connecting} (what the connect needs, the bytes held);
     * once connected, the backend's {@link BackendCounters} (the leg's close is counted there when it
     * goes inactive); else null. One field for both: with the flags in the connection's record
     * ({@link ManagedConnection#handlerFlag}) and no adapter base class (its {@code added} flag),
     * an idle relay is 16 bytes with compact headers.
     */
    private Object leg;

    /**
     * What only the connect needs, dropped once it ends: the budget and cap of the pending bytes,
     * the PROXY header to open with, and the pending bytes themselves.
     */
    private static final class Connecting {
        final BufferBudget budget;
        /** The pending cap as an int: clamped below 2 GiB, so the count cannot overflow by a read past it. */
        final int maxPendingDataSize;
        /** The PROXY protocol header the backend connection opens with, or null. */
        final ProxyProtocol proxyProtocol;
        /** Client bytes read while the connect is in flight; created with the first. */
        ArrayDeque<ByteBuf> pending;
        int pendingBytes;
        /** The pending data's account in the proxy's budget; created with the first pending bytes. */
        BufferBudget.Holder pendingHold;
        /** Reading stopped because the budget is full (resumed by {@link #budgetAvailable()}). */
        boolean starved;
        /** The backend's counters, given when the connect succeeds, before the relay hears of it. */
        BackendCounters counters;

        Connecting(BufferBudget budget, int maxPendingDataSize, ProxyProtocol proxyProtocol) {
            this.budget = budget;
            this.maxPendingDataSize = maxPendingDataSize;
            this.proxyProtocol = proxyProtocol;
        }

        /** Drops the pending bytes and their account. */
        void release() {
            if (pending != null) {
                ByteBuf b;
                while ((b = pending.poll()) != null) {
                    b.release();
                }
            }
            pendingBytes = 0;
            if (pendingHold != null) {
                pendingHold.close();
            }
        }
    }

    /**
     * @param conn               the connection, already registered with its route and its client leg watched
     * @param budget             the proxy's account of bytes held for clients
     * @param maxPendingDataSize the most client bytes held while the connect is in flight
     * @param proxyProtocol      the PROXY protocol header to open the backend connection with (null: none)
     */
    public TcpRelay(ManagedConnection conn, BufferBudget budget, long maxPendingDataSize, ProxyProtocol proxyProtocol) {
        this.conn = conn;
        this.leg = new Connecting(budget, (int) Math.min(maxPendingDataSize, MAX_PENDING_CAP), proxyProtocol);
    }

    private boolean is(int flag) {
        return conn.handlerFlag(flag);
    }

    private void set(int flag) {
        conn.setHandlerFlag(flag);
    }

    /** The connect's state while it is in flight, else null. */
    private Connecting connecting() {
        return leg instanceof Connecting c ? c : null;
    }

    /** The client leg (the connection's). */
    private Channel client() {
        return conn.clientLeg();
    }

    /** The backend leg once its connect started, else null (the connection's). */
    private Channel backend() {
        return conn.backendLeg();
    }

    private boolean isClient(ChannelHandlerContext ctx) {
        return ctx.channel() == conn.clientLeg();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (!isClient(ctx)) {
            return; // the backend leg, during the connect
        }
        ReadSizes.useForRelay(ctx.channel());
        // Pending bytes are counted through pendingHold; the outbound queues of both legs by the
        // connection itself (its legs: this channel, and the backend's once the connect starts).
        if (ctx.pipeline().get(PipelineNames.BYTES) == null) {
            set(COUNTING);
        }
    }

    /**
     * Starts the backend connect; called once, right after the relay joins the pipeline. The
     * backend channel is a leg of the connection from now on: close accounting waits for it.
     *
     * @param keepAlive TCP keepalive for the backend socket (the connection's effective policy)
     */
    public void connect(BackendConnector connector, InetSocketAddress address, TcpKeepAlive keepAlive,
                        ConnectionRegistry registry) {
        Channel client = client();
        Connecting connecting = connecting();
        ProxyProtocol proxyProtocol = connecting == null ? null : connecting.proxyProtocol;
        // The header goes out before the pending bytes the connect listener writes (ProxyHeaderWriter).
        ProxyHeader header = proxyProtocol == null ? null : ProxyHeader.of(proxyProtocol, conn, client);
        ChannelFuture connect = connector.connect(conn, client, address, keepAlive, true, null, null, null, header,
                p -> p.addLast(PipelineNames.BACKEND, this));
        Channel backend = connect.channel();
        ReadSizes.useForRelay(backend);
        registry.watchLeg(conn, backend);
        connect.addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                backendConnected();
            } else {
                connectFailed(f.cause());
            }
        });
    }

    private void backendConnected() {
        Channel client = client();
        Channel backend = backend();
        Connecting c = connecting();
        leg = c == null ? leg : c.counters; // an idle relay holds no connect state
        if (!client.isActive()) {
            if (c != null) {
                c.release();
            }
            backend.close();
            return;
        }
        set(BACKEND_READY);
        if (backend.remoteAddress() instanceof InetSocketAddress remote) {
            conn.backendAddress(remote);
        }
        log.debug("{}connected to {}", conn.log(), backend.remoteAddress());
        if (c != null) {
            if (c.pending != null) {
                ByteBuf b;
                while ((b = c.pending.poll()) != null) {
                    backend.write(b);
                }
            }
            c.release();
        }
        backend.flush();
        if (conn.isClientInputClosed()) {
            propagateClientFin();
        } else if (!client.config().isAutoRead()) {
            client.config().setAutoRead(backend.isWritable());
        }
    }

    private void connectFailed(Throwable cause) {
        CloseReason why = CloseReasons.connectFailure(cause);
        log.debug("{}connect to {} failed: {} ({})", conn.log(), conn.info().backendAddress().orElse(null), why,
                cause.toString());
        conn.closeReason(why);
        releasePending();
        leg = null;
        if (why == CloseReason.BACKEND_RESET) {
            Legs.reset(client()); // the backend accepted and reset: mirrored as a reset, not a FIN
        } else {
            client().close();
        }
    }

    /** Runs the connect timeout of the backend channel's config itself; see the class comment. */
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

    /** Watches a backend write that is not made with the void promise (see the class comment). */
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!promise.isVoid() && !isClient(ctx)) {
            promise.addListener(this);
        }
        ctx.write(msg, promise);
    }

    /** A watched backend write completed. */
    @Override
    public void operationComplete(ChannelFuture f) {
        Throwable cause = f.cause();
        if (cause instanceof IOException && !(cause instanceof ClosedChannelException)) {
            backendFailed(cause);
            Legs.reset(f.channel()); // Netty closes it too; a no-op then
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
        } else if (isClient(ctx)) {
            clientRead(buf);
        } else {
            backendRead(ctx, buf);
        }
    }

    private void clientRead(ByteBuf buf) {
        if (is(COUNTING) && buf.isReadable()) {
            conn.readFromClient(buf.readableBytes());
        }
        Channel backend = backend();
        if (is(BACKEND_READY)) {
            backend.write(buf, backend.voidPromise());
            if (!backend.isWritable()) {
                client().config().setAutoRead(false);
            }
            return;
        }
        Connecting c = connecting();
        if (c != null && backend != null && backend.isOpen()) {
            Channel client = client();
            if (c.pending == null) {
                c.pending = new ArrayDeque<>(4);
                c.pendingHold = c.budget.holder(client.eventLoop(), conn, this::budgetAvailable);
            }
            c.pending.add(buf);
            c.pendingBytes += buf.readableBytes();
            c.starved = !c.pendingHold.hold(c.pendingBytes);
            if (c.starved || c.pendingBytes >= c.maxPendingDataSize) {
                client.config().setAutoRead(false);
            }
        } else {
            buf.release();
        }
    }

    private void backendRead(ChannelHandlerContext ctx, ByteBuf buf) {
        conn.readFromBackend(buf.readableBytes());
        Channel client = client();
        if (!client.isActive()) {
            buf.release();
            return;
        }
        if (is(COUNTING)) {
            conn.wroteToClient(buf.readableBytes()); // as the accept stage's counter did on its write
        }
        client.write(buf, client.voidPromise());
        if (!client.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!isClient(ctx)) {
            client().flush();
            return;
        }
        if (!is(COUNTING)) {
            // Every byte read so far passed the accept stage's counter: from now on this handler
            // counts, one pipeline hop and one handler fewer per connection.
            set(COUNTING);
            if (ctx.pipeline().get(PipelineNames.BYTES) != null) {
                ctx.pipeline().remove(PipelineNames.BYTES);
            }
        }
        if (is(BACKEND_READY)) {
            backend().flush();
        }
    }

    /** Whether the relay counts the client's bytes itself (the accept stage's counter is gone). */
    boolean countsClientBytes() {
        return is(COUNTING);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!isClient(ctx)) {
            if (ctx.channel().isWritable()) {
                backendWritable(); // the backend can take more: resume reading the client
            }
            return;
        }
        // The client can take more: resume reading from the backend.
        if (is(BACKEND_READY) && client().isWritable() && !conn.isBackendInputClosed()) {
            backend().config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    /** The budget may have room again: resume reading unless the connection waits for something else. */
    private void budgetAvailable() {
        Connecting c = connecting();
        if (c != null && c.starved) {
            c.starved = false;
            Channel client = client();
            if (!is(BACKEND_READY) && client.isActive() && !conn.isClientInputClosed()
                    && c.pendingBytes < c.maxPendingDataSize) {
                client.config().setAutoRead(true);
            }
        }
    }

    /** The backend can take more. */
    private void backendWritable() {
        Channel client = client();
        if (!conn.isClientInputClosed() && client.isActive()) {
            client.config().setAutoRead(true);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (!(evt instanceof ChannelInputShutdownEvent)) {
            ctx.fireUserEventTriggered(evt);
        } else if (isClient(ctx)) {
            conn.clientInputClosed();
            log.debug("{}client sent FIN", conn.log());
            if (is(BACKEND_READY)) {
                propagateClientFin();
            }
        } else {
            conn.backendInputClosed();
            log.debug("{}backend sent FIN", conn.log());
            propagateBackendFin();
        }
    }

    private void propagateClientFin() {
        Legs.shutdownOutputAfterFlush(backend(), () -> {
            set(BACKEND_OUTPUT_SHUT);
            closeIfBothHalvesDone();
        });
    }

    private void propagateBackendFin() {
        Legs.shutdownOutputAfterFlush(client(), () -> {
            set(CLIENT_OUTPUT_SHUT);
            closeIfBothHalvesDone();
        });
    }

    /** A timer expired (inactivity, lifetime, half-close grace): close both legs. */
    @Override
    public void close(CloseReason reason) {
        log.debug("{}closing: {}", conn.log(), reason);
        client().close();
        Channel backend = backend();
        if (backend != null) {
            backend.close();
        }
    }

    private void closeIfBothHalvesDone() {
        if (conn.bothInputsClosed() && is(BACKEND_OUTPUT_SHUT) && is(CLIENT_OUTPUT_SHUT)) {
            conn.closeReason(conn.orderlyCloseReason());
            client().close();
            backend().close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!isClient(ctx)) {
            if (cause instanceof IOException) {
                backendFailed(cause);
            } else {
                log.warn("{}unexpected error on the backend leg", conn.log(), cause);
                conn.closeReason(CloseReason.PROXY_ERROR);
            }
            Legs.reset(ctx.channel());
            return;
        }
        Channel backend = backend();
        if (cause instanceof IOException) {
            log.debug("{}client error: {}", conn.log(), cause.toString());
            conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
            Legs.reset(ctx.channel());
            if (backend != null) {
                Legs.reset(backend);
            }
        } else {
            log.warn("{}unexpected error on the client leg", conn.log(), cause);
            conn.closeReason(CloseReason.PROXY_ERROR);
            ctx.channel().close();
            if (backend != null) {
                backend.close();
            }
        }
    }

    /** A socket error on the backend leg: recorded before the leg closes, so the client is reset. */
    private void backendFailed(Throwable cause) {
        log.debug("{}backend error: {}", conn.log(), cause.toString());
        conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.BACKEND));
    }

    @Override
    public void countCloseIn(BackendCounters counters) {
        if (leg instanceof Connecting c) {
            c.counters = counters; // the connector's listener runs before the relay's (backendConnected)
        } else {
            leg = counters;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!isClient(ctx)) {
            backendInactive();
            return;
        }
        conn.closeReason(CloseReason.CLIENT_CLOSED); // kept only if nothing else closed it first
        releasePending();
        Channel backend = backend();
        if (backend != null && backend.isOpen()) {
            if (conn.closeReason() == CloseReason.CLIENT_RESET || conn.closeReason() == CloseReason.CLIENT_UNREACHABLE) {
                Legs.reset(backend);
            } else {
                Legs.closeAfterFlush(backend);
            }
        }
        ctx.fireChannelInactive();
    }

    /** The backend leg is gone (error or full close): the client follows, with a reset if the backend reset. */
    private void backendInactive() {
        if (leg instanceof BackendCounters counters) { // after the close future's listeners, as a listener would be
            counters.closed();
            leg = null;
        }
        conn.closeReason(CloseReason.BACKEND_CLOSED); // kept only if nothing else closed it first
        CloseReason reason = conn.closeReason();
        if (reason == CloseReason.BACKEND_RESET || reason == CloseReason.BACKEND_UNREACHABLE) {
            Legs.reset(client());
        } else {
            Legs.closeAfterFlush(client());
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (isClient(ctx)) {
            releasePending();
        }
    }

    private void releasePending() {
        Connecting c = connecting();
        if (c != null) {
            c.release();
        }
    }
}
