package dev.smartproxy.route;

import dev.smartproxy.event.ConnectionInfo;
import io.netty.channel.ChannelHandler;

/**
 * Hands a connection to your own code: the proxy creates your Netty {@link ChannelHandler} and
 * puts it in the connection's pipeline, and from then on the connection is yours. The bytes
 * the proxy already read (a peeked ClientHello, for instance) are delivered to it first, as
 * ordinary {@code channelRead} calls, followed by everything else the client sends. The proxy
 * still tracks the connection: bytes, timers and the close reason.
 * <pre>{@code
 * Route.named("echo").match(m -> m.ports(7)).handle(info -> new ChannelInboundHandlerAdapter() {
 *     public void channelRead(ChannelHandlerContext ctx, Object msg) { ctx.writeAndFlush(msg); }
 * });
 * }</pre>
 */
@FunctionalInterface
public interface ConnectionHandlerFactory {
    /** A new handler for the connection described by {@code connection}; called on its I/O thread. */
    ChannelHandler newHandler(ConnectionInfo connection);
}
