package dev.smartproxy.internal.admission;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The proxy-wide maximum of connections, on the listeners (server channels) of one proxy: counts
 * each accepted child as the listener hands it over, and at the maximum turns {@code autoRead}
 * off on every listener, so the kernel's backlog holds the next clients instead of the proxy
 * accepting and closing them; each child's close counts down, and below the maximum the listeners
 * read again. Listeners read one connection per read when a maximum is set (see
 * {@code ProxyServer}), so the count never passes it.
 *
 * <p>Every listener of a proxy shares one single-threaded accept loop, where the counting,
 * pausing and resuming run; children close on their own loops and only count down there.
 */
@ChannelHandler.Sharable
public final class AcceptGate extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(AcceptGate.class);

    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final Supplier<Collection<Channel>> listeners;
    private boolean paused; // accept loop only

    /** A gate at {@code max} connections over the listeners {@code listeners} supplies. */
    public AcceptGate(int max, Supplier<Collection<Channel>> listeners) {
        this.max = max;
        this.listeners = listeners;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Channel child) {
            EventLoop acceptLoop = ctx.channel().eventLoop();
            child.closeFuture().addListener(f -> {
                if (open.decrementAndGet() < max && !acceptLoop.isShuttingDown()) {
                    try {
                        acceptLoop.execute(this::resumeIfBelow);
                    } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                        // the listeners are closing: nothing to resume
                    }
                }
            });
            if (open.incrementAndGet() >= max) {
                if (!paused) {
                    paused = true;
                    log.info("{} connections open, the maximum: accepting paused", max);
                }
                // Every time, not only on the first: Netty's acceptor turns a listener back on a
                // second after an accept error (EMFILE), whatever the gate decided.
                listeners.get().forEach(l -> l.config().setAutoRead(false));
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void resumeIfBelow() {
        if (paused && open.get() < max) {
            paused = false;
            log.info("below {} connections: accepting resumed", max);
            listeners.get().forEach(l -> l.config().setAutoRead(true));
        }
    }

    /**
     * Lets a listener bound while the proxy runs (with {@code autoRead} off) accept, unless
     * accepting is paused at the maximum now: then the next resume turns it on with the others.
     * Runs on the listener's loop, the accept loop, where the pause is decided.
     */
    public void adopt(Channel listener) {
        listener.eventLoop().execute(() -> {
            if (!paused && listener.isOpen()) {
                listener.config().setAutoRead(true);
            }
        });
    }

    /** Connections counted open now. */
    public int open() {
        return open.get();
    }

    /** Whether accepting is paused now (read on the accept loop; approximate elsewhere). */
    public boolean paused() {
        return paused;
    }
}
