package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.relay.Legs;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * The client-leg errors of the branches that have no relay of their own to catch them: it
 * overrides {@link #exceptionCaught} only, so Netty skips it for every other event (it never
 * forwards reads, writes or user events).
 *
 * <ul>
 *   <li>{@link #httpBranch}: after the HTTP handlers (and before the WebSocket relay after an
 *       upgrade): an error that passed them, a TLS error under a WebSocket for instance, gets its
 *       reason from {@link CloseReasons} and closes the client;</li>
 *   <li>{@link #beforeUserHandler}: before a handler route's handler: a socket error gets its
 *       reason and resets the client; any other error is the user's handler's to see.</li>
 * </ul>
 * Created per connection.
 */
final class ClientErrors extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ClientErrors.class);

    private final ManagedConnection conn;
    private final boolean http;

    private ClientErrors(ManagedConnection conn, boolean http) {
        this.conn = conn;
        this.http = http;
    }

    /** For the end of the HTTP branch. */
    static ClientErrors httpBranch(ManagedConnection conn) {
        return new ClientErrors(conn, true);
    }

    /** For the head of a handler route's pipeline, before the user's handler. */
    static ClientErrors beforeUserHandler(ManagedConnection conn) {
        return new ClientErrors(conn, false);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (http) {
            CloseReason why = CloseReasons.of(cause, CloseReasons.Leg.CLIENT);
            if (CloseReasons.expected(why)) {
                log.debug("{}client error on the HTTP branch: {} ({})", conn.log(), why, cause.toString());
            } else {
                log.warn("{}unexpected error on the HTTP branch", conn.log(), cause);
            }
            conn.closeReason(why);
            ctx.channel().close();
        } else if (cause instanceof IOException) {
            log.debug("{}client error: {}", conn.log(), cause.toString());
            conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
            Legs.reset(ctx.channel());
        } else {
            ctx.fireExceptionCaught(cause); // the user's handler sees its own errors
        }
    }
}
