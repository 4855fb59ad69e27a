package dev.smartproxy.internal.relay;

import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ReadSizes;
import dev.smartproxy.internal.transport.ProxyHeader;
import dev.smartproxy.route.ProxyProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The TCP relay, client side: the branch of a forward route that relays bytes (passthrough and
 * plain TCP). It connects to the chosen target, holds the client's bytes (capped) while the
 * connect is in flight, relays client to backend with backpressure, propagates half-close and
 * mirrors resets, and asks the connection record to close both legs when a timer expires.
 * {@link BackendRelay} is its other half, on the backend channel.
 *
 * <p>Pending data (client bytes read while the backend connect is in flight) is capped per
 * connection by {@code maxPendingDataSize} and counted in the proxy's {@link BufferBudget}; at
 * either limit the client stops being read (auto-read off) until the connect completes or,
 * for the budget, until it has room again. The bytes are released from the budget when they
 * are written to the backend or dropped (connect failed, client closed, handler removed).
 *
 * <p>Installed by the router once the connection is routed and registered, then
 * {@link #connect started}; the bytes a ClientHello peek read arrive next, as channel reads.
 * Created per connection; runs on the client channel's event loop, which the backend channel
 * shares, so no state here needs synchronisation.
 * <pre>{@code
 * TcpRelay relay = new TcpRelay(conn, budget, policy.maxPendingDataSize(), action.sendProxyProtocol().orElse(null));
 * client.pipeline().addLast(PipelineNames.RELAY, relay);
 * relay.connect(connector, address, conn.policy().tcpKeepAlive(), registry);
 * }</pre>
 */
public final class TcpRelay extends ChannelInboundHandlerAdapter implements ConnectionActions {
    private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);

    /** The largest pending cap honoured: 2 GiB less 16 MiB, room for any read past it. */
    static final int MAX_PENDING_CAP = Integer.MAX_VALUE - (16 << 20);

    private final ManagedConnection conn;
    private final BufferBudget budget;
    /**
     * The pending cap as an int (the cap is clamped below 2 GiB, so the count cannot overflow by a
     * read past it): two ints instead of two longs keep an idle relay at 56 bytes, not 64.
     */
    private final int maxPendingDataSize;
    /** The PROXY protocol header the backend connection opens with, or null. */
    private final ProxyProtocol proxyProtocol;
    /** Client bytes read while the connect is in flight; created with the first, dropped once the backend is up. */
    private ArrayDeque<ByteBuf> pending;
    private int pendingBytes;
    /** The pending data's account in the proxy's budget; created with the first pending bytes, dropped after. */
    private BufferBudget.Holder pendingHold;
    /**
     * Whether this handler counts the client's bytes (reads here, writes in {@link BackendRelay}): once the
     * accept stage's byte counter has left the pipeline ({@link #channelReadComplete}). Until then every byte
     * that reaches the relay passed the counter (the ClientHello a peek replays included), which counted it.
     */
    private boolean counting;
    /** Reading stopped because the budget is full (resumed by {@link #budgetAvailable()}). */
    private boolean starved;
    private Channel client;
    private Channel backend;
    private boolean backendReady;
    private boolean backendOutputShut;
    private boolean clientOutputShut;

    /**
     * @param conn               the connection, already registered with its route
     * @param budget             the proxy's account of bytes held for clients
     * @param maxPendingDataSize the most client bytes held while the connect is in flight
     * @param proxyProtocol      the PROXY protocol header to open the backend connection with (null: none)
     */
    public TcpRelay(ManagedConnection conn, BufferBudget budget, long maxPendingDataSize, ProxyProtocol proxyProtocol) {
        this.conn = conn;
        this.proxyProtocol = proxyProtocol;
        this.budget = budget;
        this.maxPendingDataSize = (int) Math.min(maxPendingDataSize, MAX_PENDING_CAP);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        client = ctx.channel();
        ReadSizes.useForRelay(client);
        // Pending bytes are counted through pendingHold; the outbound queues of both legs by the
        // connection itself (its legs: this channel, and the backend's once the connect starts).
        counting = ctx.pipeline().get(PipelineNames.BYTES) == null;
    }

    /**
     * Starts the backend connect; called once, right after the relay joins the pipeline. The
     * backend channel is a leg of the connection from now on: close accounting waits for it.
     *
     * @param keepAlive TCP keepalive for the backend socket (the connection's effective policy)
     */
    public void connect(BackendConnector connector, InetSocketAddress address, TcpKeepAlive keepAlive,
                        ConnectionRegistry registry) {
        // The header goes out before the pending bytes the connect listener writes (ProxyHeaderWriter).
        ProxyHeader header = proxyProtocol == null ? null : ProxyHeader.of(proxyProtocol, conn, client);
        ChannelFuture connect = connector.connect(conn, client, address, keepAlive, true, null, null, null, header,
                p -> p.addLast(PipelineNames.BACKEND, new BackendRelay(conn, this)));
        backend = connect.channel();
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
        if (!client.isActive()) {
            backend.close();
            return;
        }
        backendReady = true;
        if (backend.remoteAddress() instanceof InetSocketAddress remote) {
            conn.backendAddress(remote);
        }
        log.debug("{}connected to {}", conn.log(), backend.remoteAddress());
        if (pending != null) {
            ByteBuf b;
            while ((b = pending.poll()) != null) {
                backend.write(b);
            }
            pending = null; // nothing is pending after the connect: an idle relay holds no queue
        }
        pendingBytes = 0;
        if (pendingHold != null) {
            pendingHold.close();
            pendingHold = null;
        }
        starved = false;
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
        if (why == CloseReason.BACKEND_RESET) {
            Legs.reset(client); // the backend accepted and reset: mirrored as a reset, not a FIN
        } else {
            client.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (counting && buf.isReadable()) {
            conn.readFromClient(buf.readableBytes());
        }
        if (backendReady) {
            backend.write(buf, backend.voidPromise());
            if (!backend.isWritable()) {
                client.config().setAutoRead(false);
            }
        } else if (backend != null && backend.isOpen()) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
                pendingHold = budget.holder(client.eventLoop(), conn, this::budgetAvailable);
            }
            pending.add(buf);
            pendingBytes += buf.readableBytes();
            starved = !pendingHold.hold(pendingBytes);
            if (starved || pendingBytes >= maxPendingDataSize) {
                client.config().setAutoRead(false);
            }
        } else {
            buf.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!counting) {
            // Every byte read so far passed the accept stage's counter: from now on this handler
            // counts, one pipeline hop and one handler fewer per connection.
            counting = true;
            if (ctx.pipeline().get(PipelineNames.BYTES) != null) {
                ctx.pipeline().remove(PipelineNames.BYTES);
            }
        }
        if (backendReady) {
            backend.flush();
        }
    }

    /** Whether the relay counts the client's bytes itself (the accept stage's counter is gone). */
    boolean countsClientBytes() {
        return counting;
    }

    /** The client can take more: resume reading from the backend. */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (backendReady && client.isWritable() && !conn.isBackendInputClosed()) {
            backend.config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    /** The budget may have room again: resume reading unless the connection waits for something else. */
    private void budgetAvailable() {
        if (starved) {
            starved = false;
            if (!backendReady && client.isActive() && !conn.isClientInputClosed()
                    && pendingBytes < maxPendingDataSize) {
                client.config().setAutoRead(true);
            }
        }
    }

    /** Called by the backend handler when the backend can take more. */
    void backendWritable() {
        if (!conn.isClientInputClosed() && client.isActive()) {
            client.config().setAutoRead(true);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            conn.clientInputClosed();
            log.debug("{}client sent FIN", conn.log());
            if (backendReady) {
                propagateClientFin();
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void propagateClientFin() {
        Legs.shutdownOutputAfterFlush(backend, () -> {
            backendOutputShut = true;
            closeIfBothHalvesDone();
        });
    }

    /** Called by the backend handler on a FIN from the backend. */
    void propagateBackendFin() {
        Legs.shutdownOutputAfterFlush(client, () -> {
            clientOutputShut = true;
            closeIfBothHalvesDone();
        });
    }

    /** A timer expired (inactivity, lifetime, half-close grace): close both legs. */
    @Override
    public void close(CloseReason reason) {
        log.debug("{}closing: {}", conn.log(), reason);
        client.close();
        if (backend != null) {
            backend.close();
        }
    }

    private void closeIfBothHalvesDone() {
        if (conn.bothInputsClosed() && backendOutputShut && clientOutputShut) {
            conn.closeReason(conn.orderlyCloseReason());
            client.close();
            backend.close();
        }
    }

    /** Called by the backend handler when the backend leg is gone (error or full close). */
    void backendGone(boolean reset) {
        if (reset) {
            Legs.reset(client);
        } else {
            Legs.closeAfterFlush(client);
        }
    }

    Channel client() {
        return client;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("{}client error: {}", conn.log(), cause.toString());
            conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
            Legs.reset(client);
            if (backend != null) {
                Legs.reset(backend);
            }
        } else {
            log.warn("{}unexpected error on the client leg", conn.log(), cause);
            conn.closeReason(CloseReason.PROXY_ERROR);
            client.close();
            if (backend != null) {
                backend.close();
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        conn.closeReason(CloseReason.CLIENT_CLOSED); // kept only if nothing else closed it first
        releasePending();
        if (backend != null && backend.isOpen()) {
            if (conn.closeReason() == CloseReason.CLIENT_RESET || conn.closeReason() == CloseReason.CLIENT_UNREACHABLE) {
                Legs.reset(backend);
            } else {
                Legs.closeAfterFlush(backend);
            }
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releasePending();
    }

    private void releasePending() {
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
