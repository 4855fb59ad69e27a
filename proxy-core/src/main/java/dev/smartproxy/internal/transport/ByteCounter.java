package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Counts the raw bytes of a client leg both ways, before any peek, TLS or HTTP decoding, into
 * the connection record: traffic statistics and the inactivity timer see every connection the
 * same way, whatever handles it next. The first handler of every client pipeline; bytes written
 * to the client are counted as they pass on to the socket (after TLS), into
 * {@link ManagedConnection#wroteToClient}. Backend legs count their own reads (the TCP relay and
 * the HTTP backend leg). Created per connection.
 */
public final class ByteCounter extends ChannelDuplexHandler {
    private final ManagedConnection conn;

    private ByteCounter(ManagedConnection conn) {
        this.conn = conn;
    }

    /** The client leg's counter. */
    public static ChannelHandler client(ManagedConnection conn) {
        return new ByteCounter(conn);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b && b.isReadable()) {
            conn.readFromClient(b.readableBytes());
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf b) {
            conn.wroteToClient(b.readableBytes());
        }
        ctx.write(msg, promise);
    }
}
