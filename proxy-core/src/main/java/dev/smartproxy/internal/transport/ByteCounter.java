package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Counts the raw bytes a leg reads (and, on the client leg, writes), before any peek, TLS or HTTP decoding, into the connection
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

    /**
     * Counts client bytes both ways: the first handler of every client pipeline. Bytes written
     * to the client are counted as they pass on to the socket (after TLS), into
     * {@link ManagedConnection#wroteToClient}.
     */
    public static ChannelHandler client(ManagedConnection conn) {
        return new Client(conn);
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

    /** The client leg's counter: reads as {@link ByteCounter} does, and writes. */
    private static final class Client extends ChannelDuplexHandler {
        private final ManagedConnection conn;

        Client(ManagedConnection conn) {
            this.conn = conn;
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
}
