package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ReadSizes;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.event.CloseReason;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import dev.smartproxy.internal.admission.AcceptGate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** The running part of a proxy: event loops, one listener per route port, and shutdown. */
public final class ProxyServer {
    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

    private final ProxyContext px;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Map<Integer, Channel> listeners = new LinkedHashMap<>();
    /**
     * The listeners that accept (or are held only by the accept gate), for the gate on the accept
     * loop: a listener bound paused joins only when {@link #startAccepting} lets it accept, so a
     * gate's resume never starts it before the table that serves it is in force.
     */
    private final List<Channel> serverChannels = new CopyOnWriteArrayList<>();
    /** The proxy-wide maximum of connections, or null without one. */
    private final AcceptGate gate;

    private ProxyServer(ProxyContext px, int ioThreads) {
        this.px = px;
        int max = px.admission().settings().maxConnections();
        this.gate = max > 0 ? new AcceptGate(max, () -> serverChannels) : null;
        this.boss = px.transport().newGroup(1, "smartproxy-accept");
        this.workers = px.transport().newGroup(ioThreads, "smartproxy-io");
    }

    /**
     * Binds every listener and returns once all are bound; on any failure releases what was
     * bound and throws.
     *
     * @param binds route port to the socket address to bind for it (on the local transport,
     *              {@code host:port} names the local address; see {@code Transport.channelAddress})
     */
    public static ProxyServer start(ProxyContext px, int ioThreads, Map<Integer, InetSocketAddress> binds) {
        ProxyServer s = new ProxyServer(px, ioThreads);
        try {
            for (Map.Entry<Integer, InetSocketAddress> e : binds.entrySet()) {
                s.bind(e.getKey(), e.getValue());
            }
        } catch (RuntimeException e) {
            s.shutdown(Duration.ZERO);
            throw e;
        }
        log.info("SmartProxy started on {} ({} transport): {}", s.listenAddresses().values(), px.transport().name(),
                px.routes().routes().stream().map(r -> r.name()).toList());
        return s;
    }

    private void bind(int routePort, InetSocketAddress address) {
        bind(routePort, address, false);
    }

    /**
     * Binds a listener for each of {@code binds} while the proxy runs, each NOT yet accepting
     * (the kernel queues its clients) until {@link #startAccepting}: so that the route table that
     * serves these ports can be put in force first. Returns once all are bound; on any failure
     * closes those this call bound and throws, leaving every other listener as it was.
     *
     * @throws UncheckedIOException if a port cannot be bound
     */
    public synchronized void bindPaused(Map<Integer, InetSocketAddress> binds) {
        List<Integer> bound = new ArrayList<>();
        try {
            for (Map.Entry<Integer, InetSocketAddress> e : binds.entrySet()) {
                bind(e.getKey(), e.getValue(), true);
                bound.add(e.getKey());
            }
        } catch (RuntimeException e) {
            unbind(bound);
            throw e;
        }
    }

    /** Lets the listeners of {@code routePorts} (bound by {@link #bindPaused}) accept, unless the accept gate holds all. */
    public synchronized void startAccepting(Collection<Integer> routePorts) {
        for (int port : routePorts) {
            Channel ch = listeners.get(port);
            if (ch == null || serverChannels.contains(ch)) {
                continue;
            }
            serverChannels.add(ch);
            if (gate == null) {
                ch.config().setAutoRead(true);
            } else {
                gate.adopt(ch);
            }
        }
    }

    /**
     * Closes the listeners of {@code routePorts} and returns once they are closed: from then on
     * their ports refuse connections. Connections they accepted stay open.
     */
    public synchronized void unbind(Collection<Integer> routePorts) {
        for (int port : routePorts) {
            Channel ch = listeners.remove(port);
            if (ch != null) {
                serverChannels.remove(ch);
                ch.close().syncUninterruptibly();
            }
        }
    }

    /** The listeners the accept gate turns on and off now (tests). */
    List<Channel> acceptingListeners() {
        return List.copyOf(serverChannels);
    }

    /** The listener channel of {@code routePort}, or null: the same object for as long as the port is in use. */
    public synchronized Channel listener(int routePort) {
        return listeners.get(routePort);
    }

    private void bind(int routePort, InetSocketAddress address, boolean paused) {
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(px.transport().serverChannelClass())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, BackendConnector.WATER_MARK)
                .childOption(ChannelOption.ALLOCATOR, Transport.allocator())
                .childHandler(new ProxyChannelInitializer(px, routePort));
        if (px.transport().hasSockets()) { // local channels have none of these
            b.option(ChannelOption.SO_BACKLOG, 4096)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.RCVBUF_ALLOCATOR, ReadSizes.SOCKETS); // shared: no sizer objects per channel
        }
        if (gate != null) {
            // One accept per read, so the gate sees each connection before the next is accepted
            // and the count never passes the maximum.
            ServerChannelRecvByteBufAllocator oneAtATime = new ServerChannelRecvByteBufAllocator();
            oneAtATime.maxMessagesPerRead(1);
            b.handler(gate).option(ChannelOption.RCVBUF_ALLOCATOR, oneAtATime);
        }
        if (paused) {
            b.option(ChannelOption.AUTO_READ, false);
        }
        px.transport().applyKeepAlive(px.policy().tcpKeepAlive(), (o, v) -> childOption(b, o, v));
        try {
            Channel ch = b.bind(px.transport().channelAddress(address)).syncUninterruptibly().channel();
            listeners.put(routePort, ch); // shutdown and unbind close every listener, paused or not
            if (!paused) {
                serverChannels.add(ch);
            }
        } catch (Exception e) {
            String msg = "cannot listen for route port " + routePort + " on " + address + ": " + e.getMessage();
            if (e instanceof java.io.IOException io) { // BindException on NIO, a native IOException on epoll
                throw new UncheckedIOException(msg, io);
            }
            throw new IllegalStateException(msg, e);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void childOption(ServerBootstrap b, ChannelOption<?> o, Object v) {
        b.childOption((ChannelOption) o, v);
    }

    /** The bound address of each route port's listener (sockets only; empty on the local transport). */
    public synchronized Map<Integer, InetSocketAddress> boundAddresses() {
        Map<Integer, InetSocketAddress> out = new LinkedHashMap<>();
        listeners.forEach((port, ch) -> {
            if (ch.localAddress() instanceof InetSocketAddress a) {
                out.put(port, a);
            }
        });
        return out;
    }

    /** The address of each route port's listener, whatever the transport (a {@code LocalAddress} on the local one). */
    public synchronized Map<Integer, SocketAddress> listenAddresses() {
        Map<Integer, SocketAddress> out = new LinkedHashMap<>();
        listeners.forEach((port, ch) -> out.put(port, ch.localAddress()));
        return out;
    }

    /** The proxy-wide maximum's gate, or null when there is no maximum. */
    public AcceptGate acceptGate() {
        return gate;
    }

    /**
     * Stops accepting, lets open connections finish for up to {@code drain}, closes the rest
     * with reason {@code SHUTDOWN}, and returns when every channel and thread is gone.
     */
    public void shutdown(Duration drain) {
        List<Channel> toClose;
        synchronized (this) {
            toClose = new ArrayList<>(listeners.values()); // paused ones too
            listeners.clear();
            serverChannels.clear();
        }
        for (Channel ch : toClose) {
            ch.close().syncUninterruptibly();
        }
        try {
            if (!drain.isZero() && !px.registry().awaitEmpty(drain)) {
                log.info("{} connections still open after {} ms; closing them", px.registry().openCount(),
                        drain.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Shutting the event loops down closes every channel still registered; the reason is set first.
        px.registry().forEachOpen(c -> c.closeReason(CloseReason.SHUTDOWN));
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        px.transport().close();
    }
}
