package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.relay.Legs;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslClientHelloHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Peeks at the TLS ClientHello to route by SNI, under a size cap and a timeout.
 *
 * <p>Netty's {@link SslClientHelloHandler} reassembles a ClientHello split across TCP segments
 * and TLS records and enforces the size cap; this handler parses the result strictly, matches
 * the route table and hands the outcome to the {@link Router}, which installs the branch. It
 * consumes nothing: once it removes itself, every byte it buffered (the ClientHello included)
 * flows on unchanged to the branch.
 *
 * <p>While it decides, a companion handler ({@code client-unrouted}, {@link Unrouted}) sits right
 * after it and ends the connection on what can arrive before a route: the rejection event
 * Netty's peek fires just before it closes the channel (so the reason is recorded before the
 * close is accounted), a FIN, a socket error. Both leave together.
 *
 * <p>Outcomes: a route (hand over, saying whether a ClientHello was read); plain HTTP on a port
 * that serves it (non-TLS first bytes); a malformed or non-TLS first flight with no route that
 * takes it ({@code CLIENT_HELLO_INVALID}); no SNI ({@code NO_SNI}); no match
 * ({@code NO_ROUTE}); too large ({@code CLIENT_HELLO_TOO_LARGE}); too slow
 * ({@code CLIENT_HELLO_TIMEOUT}).
 *
 * <p><b>Wire bytes.</b> Netty caps the ClientHello's declared length ({@code maxClientHelloSize});
 * this handler also caps the bytes it holds on the wire, as TLS record headers are not part
 * of that length: a hello sent in 1-byte records costs 6 wire bytes per byte. While no
 * decision is made, more than {@link #wireCap(int) maxClientHelloSize + 4 + 5 x 256} bytes held
 * closes the connection with {@code CLIENT_HELLO_TOO_LARGE}: a hello at the size cap may come
 * in up to 256 records, a smaller one in smaller records (a 2 KiB hello even in 1-byte
 * records). The wire bytes held count in the proxy's {@link BufferBudget} (Netty's copy of the
 * reassembled hello, at most the payload part of those bytes, does not); when the budget is
 * full, a peek holding more than 16 KiB stops reading until there is room, or until
 * {@code initialDataTimeout} ends it.
 */
final class ClientHelloClassifier extends SslClientHelloHandler<ClientHelloClassifier.Decision> {
    private static final Logger log = LoggerFactory.getLogger(ClientHelloClassifier.class);

    /**
     * The routing outcome: a route, or the reason there is none; {@code clientHello} tells
     * whether the connection opened with a TLS ClientHello (so a route that reads HTTP must
     * terminate TLS first).
     */
    record Decision(Route route, String sni, CloseReason rejection, boolean plainHttp, boolean clientHello) {
        Decision(Route route, String sni, CloseReason rejection) {
            this(route, sni, rejection, false, false);
        }
    }

    /** Receives the outcome once the first bytes are read ({@link ConnectionRouter} in the proxy). */
    interface Router {
        /**
         * Takes the connection, knowing whether it opened with a TLS ClientHello
         * ({@code clientHello}): a route that applies per request then terminates TLS. The
         * bytes read so far follow as channelRead calls.
         */
        void routeTo(Route route, String sni, boolean clientHello);

        /**
         * Serves the connection as plain HTTP, routing each request; the bytes read so far follow.
         * {@code connectionRoute} is the route recorded for the connection (its policy applies),
         * or null when only a request's Host can choose one.
         */
        void serveHttp(Route connectionRoute);
    }

    private final ProxyContext px;
    private final ManagedConnection conn;
    private final Router client;
    /** The route table this connection read at accept: the only one it is classified by. */
    private final RouteTable table;
    private ScheduledFuture<?> timeout;
    /** Most wire bytes held while undecided. */
    private final int wireCap;
    /** The wire cap was passed: the connection is closing and nothing more is decoded. */
    private boolean overCap;
    /** The bytes held, in the proxy's budget; created on the first read. */
    private BufferBudget.Holder held;
    /** Reading stopped because the budget is full. */
    private boolean starved;

    ClientHelloClassifier(ProxyContext px, ManagedConnection conn, Router client, RouteSnapshot routing) {
        super(px.policy().maxClientHelloSize());
        this.table = routing.table();
        this.px = px;
        this.conn = conn;
        this.client = client;
        this.wireCap = wireCap(px.policy().maxClientHelloSize());
    }

    /**
     * The most wire bytes held while the ClientHello is incomplete: the largest hello accepted,
     * its 4-byte handshake header, and the 5-byte headers of 256 records.
     */
    static int wireCap(int maxClientHelloSize) {
        return maxClientHelloSize + 4 + 5 * 256;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.pipeline().addAfter(ctx.name(), PipelineNames.CLIENT_UNROUTED, new Unrouted());
        long millis = px.policy().initialDataTimeout().toMillis();
        timeout = ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                log.debug("{}no complete ClientHello within {} ms", conn.log(), millis);
                conn.closeReason(CloseReason.CLIENT_HELLO_TIMEOUT);
                ctx.close();
            }
        }, millis, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (held != null) {
            held.close(); // handed over (the next handler counts what it keeps) or closed
        }
        if (starved && ctx.channel().isActive()) {
            starved = false;
            ctx.channel().config().setAutoRead(true); // the next handler reads by its own rules
        }
        super.handlerRemoved0(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (overCap) {
            in.skipBytes(in.readableBytes());
            return;
        }
        super.decode(ctx, in, out);
        if (!ctx.isRemoved() && ctx.channel().isActive() && in.readableBytes() > wireCap) {
            // Still no decision: the hello is incomplete, and its records cost more than it may.
            overCap = true;
            int wire = in.readableBytes();
            in.skipBytes(wire);
            throw new TooLongFrameException("ClientHello still incomplete after " + wire
                    + " wire bytes (cap " + wireCap + ")");
        }
    }

    /** Counts the bytes held after each read in the budget, and stops reading when it is full. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        try {
            super.channelRead(ctx, msg);
        } finally {
            if (!ctx.isRemoved()) {
                if (held == null) {
                    held = px.budget().holder(ctx.executor(), conn, () -> budgetAvailable(ctx));
                }
                if (!held.hold(internalBuffer().readableBytes())) {
                    starved = true;
                    ctx.channel().config().setAutoRead(false);
                }
            }
        }
    }

    private void budgetAvailable(ChannelHandlerContext ctx) {
        if (starved && !ctx.isRemoved()) {
            starved = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    protected Future<Decision> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) {
        return ctx.executor().newSucceededFuture(decide(clientHello));
    }

    private Decision decide(ByteBuf clientHello) {
        String sni = null;
        boolean helloRead = clientHello != null;
        if (!helloRead && AcceptPlan.servesPlainHttp(table, conn.routePort())) {
            // Not TLS, on a port that serves HTTP: requests are routed one by one. The connection
            // is recorded under the route that takes cleartext HTTP here, if one does without a name.
            Route connectionRoute = table
                    .match(new RouteRequest(conn.routePort(), conn.clientAddress().getAddress(), null))
                    .filter(r -> AcceptPlan.appliesPerRequest(r)
                            && !(r.action() instanceof dev.smartproxy.route.ForwardAction f && f.tlsMode().isPresent()))
                    .orElse(null);
            return new Decision(connectionRoute, null, null, true, false);
        }
        if (helloRead) {
            try {
                sni = ClientHelloParser.sniHostName(clientHello);
            } catch (ClientHelloParser.MalformedClientHelloException e) {
                log.debug("{}malformed ClientHello: {}", conn.log(), e.getMessage());
                return new Decision(null, null, CloseReason.CLIENT_HELLO_INVALID);
            }
        }
        RouteRequest request = new RouteRequest(conn.routePort(), conn.clientAddress().getAddress(), sni);
        Optional<Route> route = table.match(request);
        if (route.isPresent()) {
            return new Decision(route.get(), sni, null, false, helloRead);
        }
        CloseReason why = !helloRead ? CloseReason.CLIENT_HELLO_INVALID : sni == null ? CloseReason.NO_SNI
                : CloseReason.NO_ROUTE;
        return new Decision(null, sni, why);
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, Future<Decision> future) {
        Decision d = future.getNow();
        if (d.sni() != null) {
            conn.sni(d.sni());
        }
        if (d.plainHttp()) {
            removeUnrouted(ctx);
            client.serveHttp(d.route());
            ctx.pipeline().remove(this);
            return;
        }
        if (d.route() == null) {
            log.debug("{}rejected: {} (sni {})", conn.log(), d.rejection(), d.sni());
            conn.closeReason(d.rejection());
            ctx.close();
            return;
        }
        removeUnrouted(ctx);
        client.routeTo(d.route(), d.sni(), d.clientHello());
        ctx.pipeline().remove(this); // forwards the buffered bytes, ClientHello included, to the branch
    }

    private static void removeUnrouted(ChannelHandlerContext ctx) {
        if (ctx.pipeline().context(PipelineNames.CLIENT_UNROUTED) != null) {
            ctx.pipeline().remove(PipelineNames.CLIENT_UNROUTED);
        }
    }

    /**
     * Why a ClientHello was refused, for the failures Netty's peek raises: too large, or not TLS
     * (a record that is not a handshake); null for anything else. The one place this is decided.
     */
    static CloseReason rejection(Throwable cause) {
        Throwable root = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if (root instanceof TooLongFrameException) {
            return CloseReason.CLIENT_HELLO_TOO_LARGE;
        }
        if (root instanceof io.netty.handler.ssl.NotSslRecordException) {
            return CloseReason.CLIENT_HELLO_INVALID;
        }
        return null;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Netty's peek has closed the channel on its own failures (the reason was recorded from
        // its rejection event, by Unrouted); the wire cap closes here.
        CloseReason why = rejection(cause);
        if (why == null) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        conn.closeReason(why);
        log.debug("{}ClientHello rejected: {}", conn.log(), cause.getMessage());
        ctx.close();
    }

    /**
     * What ends a connection that no route has taken yet; after the peek, removed with it.
     * Netty's {@link SslClientHelloHandler} fires its rejection as an {@link SniCompletionEvent}
     * to the next handler and then closes the channel before it throws, so the reason can only
     * be recorded here, in time for the close to be accounted with it. A FIN before a route
     * closes (nothing to forward to); a socket error resets, any other error is a defect.
     */
    private final class Unrouted extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SniCompletionEvent sni && sni.cause() != null) {
                CloseReason why = rejection(sni.cause());
                if (why != null) {
                    conn.closeReason(why);
                }
            } else if (evt instanceof ChannelInputShutdownEvent) {
                conn.clientInputClosed();
                log.debug("{}client sent FIN", conn.log());
                ctx.close(); // nothing to forward to: the client gave up before being routed
            } else {
                ctx.fireUserEventTriggered(evt);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof IOException) {
                log.debug("{}client error: {}", conn.log(), cause.toString());
                conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
                Legs.reset(ctx.channel());
            } else {
                log.warn("{}unexpected error on the client leg", conn.log(), cause);
                conn.closeReason(CloseReason.PROXY_ERROR);
                ctx.close();
            }
        }
    }
}
