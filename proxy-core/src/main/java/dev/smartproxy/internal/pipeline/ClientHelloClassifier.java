package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRequest;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.SslClientHelloHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Peeks at the TLS ClientHello to route by SNI, under a size cap and a timeout.
 *
 * <p>Netty's {@link SslClientHelloHandler} reassembles a ClientHello split across TCP segments
 * and TLS records and enforces the size cap; this handler parses the result strictly, matches
 * the route table and hands over to {@link ClientHandler}. It consumes nothing: once it
 * removes itself, every byte it buffered (the ClientHello included) flows on unchanged.
 *
 * <p>Outcomes: a route (hand over, saying whether a ClientHello was read); plain HTTP on a port
 * that serves it (non-TLS first bytes); a malformed or non-TLS first flight with no route that
 * takes it ({@code CLIENT_HELLO_INVALID}); no SNI ({@code NO_SNI}); no match
 * ({@code NO_ROUTE}); too large ({@code CLIENT_HELLO_TOO_LARGE}); too slow
 * ({@code CLIENT_HELLO_TIMEOUT}).
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

    /** Receives the route once the ClientHello has been read ({@link ClientHandler} in the proxy). */
    interface Router {
        /** Takes the connection; the bytes read so far follow as channelRead calls. */
        void routeTo(Route route, String sni);

        /**
         * Takes the connection, knowing whether it opened with a TLS ClientHello
         * ({@code clientHello}): a route that applies per request then terminates TLS. Defaults
         * to {@link #routeTo(Route, String)}.
         */
        default void routeTo(Route route, String sni, boolean clientHello) {
            routeTo(route, sni);
        }

        /** Serves the connection as plain HTTP, routing each request; the bytes read so far follow. */
        void serveHttp();
    }

    private final ProxyContext px;
    private final ManagedConnection conn;
    private final Router client;
    private ScheduledFuture<?> timeout;

    ClientHelloClassifier(ProxyContext px, ManagedConnection conn, Router client) {
        super(px.policy().maxClientHelloSize());
        this.px = px;
        this.conn = conn;
        this.client = client;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
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
        super.handlerRemoved0(ctx);
    }

    @Override
    protected Future<Decision> lookup(ChannelHandlerContext ctx, ByteBuf clientHello) {
        return ctx.executor().newSucceededFuture(decide(clientHello));
    }

    private Decision decide(ByteBuf clientHello) {
        String sni = null;
        boolean helloRead = clientHello != null;
        if (!helloRead && px.routes().servesPlainHttp(conn.routePort())) {
            return new Decision(null, null, null, true, false); // not TLS, on a port that serves HTTP
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
        Optional<Route> route = px.routes().match(request);
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
            client.serveHttp();
            ctx.pipeline().remove(this);
            return;
        }
        if (d.route() == null) {
            log.debug("{}rejected: {} (sni {})", conn.log(), d.rejection(), d.sni());
            conn.closeReason(d.rejection());
            ctx.close();
            return;
        }
        client.routeTo(d.route(), d.sni(), d.clientHello());
        ctx.pipeline().remove(this); // forwards the buffered bytes, ClientHello included, to the client handler
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Netty's peek closes the channel itself on these; record why before the close completes.
        Throwable root = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if (root instanceof TooLongFrameException) {
            conn.closeReason(CloseReason.CLIENT_HELLO_TOO_LARGE);
        } else if (root instanceof io.netty.handler.ssl.NotSslRecordException) {
            conn.closeReason(CloseReason.CLIENT_HELLO_INVALID);
        } else {
            ctx.fireExceptionCaught(cause);
            return;
        }
        log.debug("{}ClientHello rejected: {}", conn.log(), root.getMessage());
        ctx.close();
    }
}
