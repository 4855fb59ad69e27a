package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.EffectivePolicies;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.BlockAction;
import dev.smartproxy.route.ForwardAction;
import dev.smartproxy.route.HandlerAction;
import dev.smartproxy.route.RouteAction;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.Target;
import dev.smartproxy.route.TlsMode;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The client side of a connection: it connects to the chosen target, holds the client's
 * bytes (capped) while the connect is in flight, relays client to backend with backpressure,
 * propagates half-close and errors, and reports to the connection record.
 *
 * <p>Pending data (client bytes read while the backend connect is in flight) is capped per
 * connection by {@code maxPendingDataSize} and counted in the proxy's {@link BufferBudget}; at
 * either limit the client stops being read (auto-read off) until the connect completes or,
 * for the budget, until it has room again. The bytes are released from the budget when they
 * are written to the backend or dropped (connect failed, client closed, handler removed).
 *
 * <p>Created per connection; runs on the client channel's event loop, which the backend
 * channel shares, so no state here needs synchronisation.
 */
final class ClientHandler extends ChannelInboundHandlerAdapter
        implements ClientHelloClassifier.Router, ConnectionActions {
    private static final Logger log = LoggerFactory.getLogger(ClientHandler.class);

    private final ProxyContext px;
    private final ManagedConnection conn;
    private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
    private long pendingBytes;
    /** The pending data's account in the proxy's budget. */
    private BufferBudget.Holder pendingHold;
    /** Reading stopped because the budget is full (resumed by {@link #budgetAvailable()}). */
    private boolean starved;
    private Channel client;
    private Channel backend;
    private boolean backendReady;
    private boolean backendOutputShut;
    private boolean clientOutputShut;
    private boolean routed;
    /** The connection belongs to other handlers (a user's, or the HTTP branch): pass everything on. */
    private boolean passThrough;
    /** The connection is served by the HTTP branch (terminated or plain HTTP). */
    private boolean httpMode;

    ClientHandler(ProxyContext px, ManagedConnection conn) {
        this.px = px;
        this.conn = conn;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        client = ctx.channel();
        pendingHold = px.budget().holder(client.eventLoop(), conn, this::budgetAvailable);
        // pending bytes are counted through pendingHold
        conn.bufferedBytes(() -> Relay.queued(client) + Relay.queued(backend));
        client.closeFuture().addListener(f -> legClosed());
        px.observe(client);
    }

    /** Routes a connection chosen at accept time (no byte read) by its route's action. */
    @Override
    public void routeTo(Route route, String sni) {
        routeTo(route, sni, false);
    }

    /**
     * Routes the connection by its route's action. A route that applies per request
     * ({@link AcceptPlan#appliesPerRequest}) gets the HTTP branch, which terminates TLS when the
     * route is a TLS-terminating forward or the connection opened with a ClientHello
     * ({@code clientHello}): a redirect or a conditional block is then answered over TLS, per
     * request, never in plaintext to a TLS client.
     */
    @Override
    public void routeTo(Route route, String sni, boolean clientHello) {
        routed = true;
        RouteAction action = route.action();
        if (AcceptPlan.appliesPerRequest(route)) {
            boolean tls = clientHello || action instanceof ForwardAction f && f.tlsMode().isPresent();
            httpBranch(tls, sni, route);
        } else if (action instanceof ForwardAction f) {
            forward(route, f, sni);
        } else if (action instanceof BlockAction) {
            block(route, sni);
        } else if (action instanceof HandlerAction h) {
            handOver(route, h, sni);
        } else {
            throw new IllegalStateException("route '" + route.name() + "': unknown action " + action);
        }
    }

    /** Plain HTTP on a port whose routes read HTTP: requests are routed one by one. */
    @Override
    public void serveHttp(Route connectionRoute) {
        routed = true;
        httpBranch(false, null, connectionRoute);
    }

    private void httpBranch(boolean tls, String sni, Route route) {
        passThrough = true;
        httpMode = true;
        HttpBranch.install(px, conn, client, tls, sni, route, this);
    }

    private ConnectionKind kindOf(String sni, ForwardAction f) {
        return f != null && f.tlsMode().filter(m -> m == TlsMode.PASSTHROUGH).isPresent() ? ConnectionKind.PASSTHROUGH
                : ConnectionKind.PLAIN;
    }

    /** A block without path or header conditions: recorded, then closed with reason BLOCKED; nothing is forwarded. */
    private void block(Route route, String sni) {
        ConnectionKind kind = sni != null ? ConnectionKind.PASSTHROUGH : ConnectionKind.PLAIN;
        px.registry().routed(conn, kind, route.name(), sni, EffectivePolicies.of(px.policy(), route.policy(), kind),
                new EventLoopScheduler(client.eventLoop()), this);
        log.debug("{}blocked by route '{}'", conn.log(), route.name());
        conn.closeReason(CloseReason.BLOCKED);
        client.close();
    }

    /**
     * A handler route: the user's handler joins the pipeline after this one, which from now on
     * only counts bytes and passes every message on, the already-read bytes first.
     */
    private void handOver(Route route, HandlerAction action, String sni) {
        ConnectionKind kind = ConnectionKind.PLAIN;
        px.registry().routed(conn, kind, route.name(), sni, EffectivePolicies.of(px.policy(), route.policy(), kind),
                new EventLoopScheduler(client.eventLoop()), this);
        passThrough = true;
        client.pipeline().addAfter(PipelineNames.CLIENT, PipelineNames.USER, action.factory().newHandler(conn.info()));
        log.debug("{}handed to route '{}'s handler", conn.log(), route.name());
    }

    /** A forward route: records it, picks a target and starts the backend connect. */
    private void forward(Route route, ForwardAction action, String sni) {
        ConnectionKind kind = kindOf(sni, action);
        Target target = px.nextTarget(route, action);
        InetSocketAddress address = Transport.targetAddress(target.host(), target.portFor(conn.routePort()));
        conn.backendAddress(address);
        EffectivePolicy policy = EffectivePolicies.of(px.policy(), route.policy(), kind);
        px.registry().routed(conn, kind, route.name(), sni, policy, new EventLoopScheduler(client.eventLoop()), this);
        log.debug("{}route '{}' ({}) -> {}", conn.log(), route.name(), kind, address);

        ChannelFuture connect = px.connector().connect(client, address, policy.tcpKeepAlive(), true, null, null, null,
                p -> p.addLast(PipelineNames.BACKEND, new BackendHandler(conn, this)));
        backend = connect.channel();
        backend.closeFuture().addListener(f -> legClosed());
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
        px.observe(backend);
        if (backend.remoteAddress() instanceof InetSocketAddress remote) {
            conn.backendAddress(remote);
        }
        log.debug("{}connected to {}", conn.log(), backend.remoteAddress());
        while (!pending.isEmpty()) {
            backend.write(pending.poll());
        }
        pendingBytes = 0;
        pendingHold.close(); // nothing is pending after the connect
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
            Relay.reset(client); // the backend accepted and reset: mirrored as a reset, not a FIN
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
        if (passThrough) {
            ctx.fireChannelRead(buf);
            return;
        }
        if (backendReady) {
            backend.write(buf, backend.voidPromise());
            if (!backend.isWritable()) {
                client.config().setAutoRead(false);
            }
        } else if (routed && backend != null && backend.isOpen()) {
            pending.add(buf);
            pendingBytes += buf.readableBytes();
            starved = !pendingHold.hold(pendingBytes);
            if (starved || pendingBytes >= px.policy().maxPendingDataSize()) {
                client.config().setAutoRead(false);
            }
        } else {
            buf.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (passThrough) {
            ctx.fireChannelReadComplete();
        } else if (backendReady) {
            backend.flush();
        }
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
            if (!backendReady && !passThrough && client.isActive() && !conn.isClientInputClosed()
                    && pendingBytes < px.policy().maxPendingDataSize()) {
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
        if (passThrough) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            conn.clientInputClosed();
            log.debug("{}client sent FIN", conn.log());
            if (backendReady) {
                propagateClientFin();
            } else if (!routed) {
                client.close(); // nothing to forward to: the client gave up before being routed
            }
            return;
        }
        if (evt instanceof SniCompletionEvent sni && sni.cause() != null) {
            // Netty's ClientHello peek is about to close the channel itself: record why first.
            Throwable c = sni.cause();
            conn.closeReason(c instanceof TooLongFrameException ? CloseReason.CLIENT_HELLO_TOO_LARGE
                    : c instanceof NotSslRecordException ? CloseReason.CLIENT_HELLO_INVALID
                    : CloseReason.CLIENT_HELLO_INVALID);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void propagateClientFin() {
        Relay.shutdownOutputAfterFlush(backend, () -> {
            backendOutputShut = true;
            closeIfBothHalvesDone();
        });
    }

    /** Called by the backend handler on a FIN from the backend. */
    void propagateBackendFin() {
        Relay.shutdownOutputAfterFlush(client, () -> {
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
            Relay.reset(client);
        } else {
            Relay.closeAfterFlush(client);
        }
    }

    Channel client() {
        return client;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (httpMode) {
            CloseReason why = CloseReasons.of(cause, CloseReasons.Leg.CLIENT);
            if (CloseReasons.expected(why)) {
                log.debug("{}client error on the HTTP branch: {} ({})", conn.log(), why, cause.toString());
            } else {
                log.warn("{}unexpected error on the HTTP branch", conn.log(), cause);
            }
            conn.closeReason(why);
            client.close();
            return;
        }
        if (passThrough && !(cause instanceof IOException)) {
            ctx.fireExceptionCaught(cause); // the user's handler sees its own errors
            return;
        }
        if (cause instanceof IOException) {
            log.debug("{}client error: {}", conn.log(), cause.toString());
            conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
            Relay.reset(client);
            if (backend != null) {
                Relay.reset(backend);
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
                Relay.reset(backend);
            } else {
                Relay.closeAfterFlush(backend);
            }
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releasePending();
    }

    private void releasePending() {
        ByteBuf b;
        while ((b = pending.poll()) != null) {
            b.release();
        }
        pendingBytes = 0;
        if (pendingHold != null) {
            pendingHold.close();
        }
    }

    private void legClosed() {
        if (!client.isOpen() && (backend == null || !backend.isOpen())) {
            px.registry().closed(conn);
        }
    }
}
