package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Counts the raw bytes a leg reads, before any peek, TLS or HTTP decoding, into the connection
 * record: traffic statistics and the inactivity timer see every connection the same way,
 * whatever handles it next. Created per leg.
 */
public final class ByteCounter extends ChannelInboundHandlerAdapter {
    private final ManagedConnection conn;
    private final boolean client;

    private ByteCounter(ManagedConnection conn, boolean client) {
        this.conn = conn;
        this.client = client;
    }

    /** Counts client bytes: the first handler of every client pipeline. */
    public static ByteCounter client(ManagedConnection conn) {
        return new ByteCounter(conn, true);
    }

    /** Counts backend bytes: the first handler of a backend pipeline that decodes (TLS, HTTP). */
    public static ByteCounter backend(ManagedConnection conn) {
        return new ByteCounter(conn, false);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b && b.isReadable()) {
            if (client) {
                conn.readFromClient(b.readableBytes());
            } else {
                conn.readFromBackend(b.readableBytes());
            }
        }
        ctx.fireChannelRead(msg);
    }
}
