package dev.smartproxy.internal.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DuplexChannel;

/**
 * Small channel operations shared by both relay directions. On the local transport (no
 * sockets) a FIN is not sent and a reset is a plain close.
 */
public final class Legs {
    private Legs() {
    }

    /**
     * Sends a FIN on {@code ch} once everything queued before it is written, then runs
     * {@code then}. Shutting the output down at once would fail the queued writes.
     */
    static void shutdownOutputAfterFlush(Channel ch, Runnable then) {
        if (!ch.isActive()) {
            then.run();
            return;
        }
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess() && ch.isActive() && ch instanceof DuplexChannel duplex) {
                duplex.shutdownOutput().addListener(x -> then.run());
            } else {
                then.run();
            }
        });
    }

    /** Closes {@code ch} once everything queued on it is written. */
    static void closeAfterFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }

    /** Closes {@code ch} with a reset (RST) instead of a FIN, mirroring a reset on the other leg. */
    public static void reset(Channel ch) {
        if (ch.isOpen()) {
            try {
                ch.config().setOption(ChannelOption.SO_LINGER, 0); // ignored where there is no socket
            } catch (RuntimeException ignored) {
                // the socket is already gone; a plain close is all that is left
            }
            ch.close();
        }
    }

    /** Bytes queued on {@code ch}'s outbound buffer, not yet written to its socket. */
    public static long queued(Channel ch) {
        if (ch == null) {
            return 0;
        }
        io.netty.channel.ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }
}
