package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ReadSizes;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.event.CloseReason;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
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

/**
 * The running part of a proxy: event loops, the listeners of each route port, and shutdown.
 *
 * <p>How a route port accepts: on epoll without a proxy-wide maximum, one listener per event loop
 * (all bound with {@code SO_REUSEPORT}, the kernel spreading new connections over them), each
 * registered on an event loop: no accept thread to wake per connection, and a connection whose
 * turn falls on the accepting loop registers there inline. Connections still go to the event loops
 * in turn, not to the loop that accepted them: kept on the accepting loop, the healthy clients of
 * the hostile-client suite's pipelining attack were served half as often (47-54 requests, p99
 * 0.8-1.1 s, one timing out) as in turn (111-127, p99 34-265 ms), the attacked loop holding every
 * connection the kernel hashed to its listener.
 * Otherwise (NIO, the local transport, or an {@link AcceptGate}, whose count needs one accepting
 * thread) one listener on the single-threaded accept loop. Either way a port's listeners come and
 * go together, and {@link #listener} names the first of them.
 */
public final class ProxyServer {
    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

    private final ProxyContext px;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    /** Each route port's listeners (one, or one per event loop), the first one bound first. */
    private final Map<Integer, List<Channel>> listeners = new LinkedHashMap<>();
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
            for (Channel ch : listeners.getOrDefault(port, List.of())) {
                if (serverChannels.contains(ch)) {
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
    }

    /**
     * Closes the listeners of {@code routePorts} and returns once they are closed: from then on
     * their ports refuse connections. Connections they accepted stay open.
     */
    public synchronized void unbind(Collection<Integer> routePorts) {
        for (int port : routePorts) {
            List<Channel> chs = listeners.remove(port);
            if (chs != null) {
                serverChannels.removeAll(chs);
                closeAll(chs);
            }
        }
    }

    /** The listeners the accept gate turns on and off now (tests). */
    List<Channel> acceptingListeners() {
        return List.copyOf(serverChannels);
    }

    /**
     * The (first) listener channel of {@code routePort}, or null: the same object for as long as
     * the port is in use.
     */
    public synchronized Channel listener(int routePort) {
        List<Channel> chs = listeners.get(routePort);
        return chs == null ? null : chs.get(0);
    }

    /** Every listener channel of {@code routePort} (one per event loop on epoll), or an empty list (tests). */
    synchronized List<Channel> listeners(int routePort) {
        return List.copyOf(listeners.getOrDefault(routePort, List.of()));
    }

    /** Whether each route port gets one listener per event loop: epoll, and no accept gate. */
    private boolean listenerPerLoop() {
        return px.transport().isEpoll() && gate == null;
    }

    private static void closeAll(List<Channel> chs) {
        for (Channel ch : chs) {
            ch.close().syncUninterruptibly();
        }
    }

    private void bind(int routePort, InetSocketAddress address, boolean paused) {
        for (var loop : workers) {
            if (loop.inEventLoop()) { // the bind would wait on this very thread's loop
                throw new IllegalStateException("cannot listen for route port " + routePort
                        + " from one of the proxy's I/O threads (an event listener?): update routes from another thread");
            }
        }
        ProxyChannelInitializer init = new ProxyChannelInitializer(px, routePort);
        List<Channel> bound = new ArrayList<>();
        try {
            if (listenerPerLoop()) {
                List<EventLoop> loops = new ArrayList<>();
                workers.forEach(e -> loops.add((EventLoop) e));
                boolean reusePort = loops.size() > 1;
                if (reusePort && address.getPort() != 0) {
                    refuseIfTaken(address);
                }
                SocketAddress at = px.transport().channelAddress(address);
                for (EventLoop loop : loops) {
                    Channel ch = bindOne(bootstrap(loop, workers, init, paused, reusePort), at);
                    bound.add(ch);
                    if (address.getPort() == 0 && !address.isUnresolved()
                            && ch.localAddress() instanceof InetSocketAddress a) {
                        at = new InetSocketAddress(address.getAddress(), a.getPort()); // the others join its port
                    }
                }
            } else {
                bound.add(bindOne(bootstrap(boss, workers, init, paused, false),
                        px.transport().channelAddress(address)));
            }
        } catch (Exception e) {
            closeAll(bound);
            String msg = "cannot listen for route port " + routePort + " on " + address + ": " + e.getMessage();
            if (e instanceof java.io.IOException io) { // BindException on NIO, a native IOException on epoll
                throw new UncheckedIOException(msg, io);
            }
            throw new IllegalStateException(msg, e);
        }
        listeners.put(routePort, bound); // shutdown and unbind close every listener, paused or not
        if (!paused) {
            serverChannels.addAll(bound);
        }
    }

    /**
     * Fails as a plain bind would if something listens on {@code address} already: with
     * {@code SO_REUSEPORT}, the kernel would let these listeners join those of another process of
     * the same user (another proxy on the same port) instead of refusing the port.
     */
    private static void refuseIfTaken(InetSocketAddress address) throws java.io.IOException {
        // The address family of the listeners (Netty binds 0.0.0.0 as IPv4 only), bound but never
        // listening, so that no client can connect to the probe.
        java.net.ProtocolFamily family = address.getAddress() instanceof java.net.Inet6Address
                ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET;
        try (java.nio.channels.SocketChannel probe = java.nio.channels.SocketChannel.open(family)) {
            // As the listeners: a port only in TIME_WAIT is free; one with a listener is not.
            probe.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
            probe.bind(address);
        }
    }

    /** Binds one listener; throws what the bind threw (checked exceptions included, undeclared). */
    private static Channel bindOne(ServerBootstrap b, SocketAddress at) {
        return b.bind(at).syncUninterruptibly().channel();
    }

    private ServerBootstrap bootstrap(EventLoopGroup parent, EventLoopGroup children, ProxyChannelInitializer init,
                                      boolean paused, boolean reusePort) {
        ServerBootstrap b = new ServerBootstrap()
                .group(parent, children)
                .channel(px.transport().serverChannelClass())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, BackendConnector.WATER_MARK)
                .childOption(ChannelOption.ALLOCATOR, Transport.allocator())
                .childHandler(init);
        if (px.transport().hasSockets()) { // local channels have none of these
            b.option(ChannelOption.SO_BACKLOG, 4096)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.RCVBUF_ALLOCATOR, ReadSizes.SOCKETS); // shared: no sizer objects per channel
        }
        // On epoll the listener carries TCP_NODELAY and keepalive and its connections inherit
        // them; elsewhere each accepted channel gets them.
        if (!px.transport().applyToListener(px.policy().tcpKeepAlive(), Transport.optionSetter(b))) {
            if (px.transport().hasSockets()) {
                b.childOption(ChannelOption.TCP_NODELAY, true);
            }
            px.transport().applyKeepAlive(px.policy().tcpKeepAlive(), (o, v) -> childOption(b, o, v));
        }
        if (reusePort) {
            b.option(EpollChannelOption.SO_REUSEPORT, true);
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
        return b;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void childOption(ServerBootstrap b, ChannelOption<?> o, Object v) {
        b.childOption((ChannelOption) o, v);
    }

    /** The bound address of each route port's listener (sockets only; empty on the local transport). */
    public synchronized Map<Integer, InetSocketAddress> boundAddresses() {
        Map<Integer, InetSocketAddress> out = new LinkedHashMap<>();
        listeners.forEach((port, chs) -> {
            if (chs.get(0).localAddress() instanceof InetSocketAddress a) {
                out.put(port, a);
            }
        });
        return out;
    }

    /** The address of each route port's listener, whatever the transport (a {@code LocalAddress} on the local one). */
    public synchronized Map<Integer, SocketAddress> listenAddresses() {
        Map<Integer, SocketAddress> out = new LinkedHashMap<>();
        listeners.forEach((port, chs) -> out.put(port, chs.get(0).localAddress()));
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
            toClose = new ArrayList<>();
            listeners.values().forEach(toClose::addAll); // paused ones too
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
