package dev.smartproxy.internal.transport;

import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.TcpKeepAlive;
import io.netty.bootstrap.AbstractBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.NetUtil;
import io.netty.util.internal.SystemPropertyUtil;
import jdk.net.ExtendedSocketOptions;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;

import java.util.function.BiConsumer;

/**
 * The chosen Netty transport: event loops, channel classes, addresses and the socket options it
 * supports. Injected into the proxy: {@link #of(IoTransport)} for the public choice (epoll or
 * NIO), {@link #local()} for in-VM tests over Netty's local transport.
 *
 * <p>The local transport is not an {@link IoTransport} value (users cannot pick it by mistake);
 * on it, an {@link InetSocketAddress} {@code host:port} names the {@link LocalAddress}
 * {@code "host:port"} (so a route's target {@code ("echo", 7)} reaches a test server bound at
 * {@code new LocalAddress("echo:7")}), socket options that local channels lack (keepalive,
 * {@code TCP_NODELAY}, half-closure, backlog) are skipped, and a client's address reads as the
 * loopback address with port 0.
 */
public final class Transport {
    private enum Kind { EPOLL, NIO, LOCAL }

    /** What a local client's address reads as: local channels have no IP address. */
    private static final InetSocketAddress LOCAL_CLIENT = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    /**
     * The buffer allocator of every channel the proxy opens, accepted and backend alike: Netty's
     * pooled allocator (per-thread caches in front of arenas), unless the operator chose one with
     * {@code -Dio.netty.allocator.type}, which then wins. Netty 4.2's default, the adaptive
     * allocator, cost 14% more CPU per keep-alive HTTPS request here (19.9 against 17.0 µs, its
     * recycler queues and magazines ~8% of samples) and more per GiB relayed (0.58 against 0.50
     * s/GiB), for less resident memory up front (the pooled arenas take a few MiB once).
     */
    private static final ByteBufAllocator ALLOCATOR = chooseAllocator(SystemPropertyUtil.get("io.netty.allocator.type"));

    private final Kind kind;
    private final OffLoopResolverGroup resolver = new OffLoopResolverGroup();

    private Transport(Kind kind) {
        this.kind = kind;
    }

    /**
     * The in-VM transport ({@code LocalChannel}, {@code LocalServerChannel} on
     * {@code LocalIoHandler} loops): for tests of the accept path without sockets. Half-close,
     * resets and socket options do not exist on it.
     */
    public static Transport local() {
        return new Transport(Kind.LOCAL);
    }

    /** Resolves backend host names off the event loops; set it on every backend bootstrap. */
    public AddressResolverGroup<InetSocketAddress> resolver() {
        return resolver;
    }

    /** Releases the lookup threads. */
    public void close() {
        resolver.close();
    }

    /**
     * Resolves the configured transport.
     *
     * @throws IllegalStateException if {@code EPOLL} was asked for and is unavailable
     */
    public static Transport of(IoTransport choice) {
        switch (choice) {
            case NIO:
                return new Transport(Kind.NIO);
            case EPOLL:
                if (!epollAvailable()) {
                    throw new IllegalStateException("transport: EPOLL is unavailable here ("
                            + Epoll.unavailabilityCause() + "); use AUTO or NIO");
                }
                return new Transport(Kind.EPOLL);
            default:
                return new Transport(epollAvailable() ? Kind.EPOLL : Kind.NIO);
        }
    }

    private static boolean epollAvailable() {
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) {
            return false;
        }
    }

    static ByteBufAllocator chooseAllocator(String operatorChoice) {
        return operatorChoice == null || operatorChoice.isBlank() ? PooledByteBufAllocator.DEFAULT : ByteBufAllocator.DEFAULT;
    }

    /** The allocator to set ({@code ChannelOption.ALLOCATOR}) on every channel the proxy opens. */
    public static ByteBufAllocator allocator() {
        return ALLOCATOR;
    }

    /** Whether this is the native epoll transport. */
    public boolean isEpoll() {
        return kind == Kind.EPOLL;
    }

    /** Whether channels are sockets (epoll, NIO) with socket options; false on the local transport. */
    public boolean hasSockets() {
        return kind != Kind.LOCAL;
    }

    /** {@code epoll}, {@code nio} or {@code local}. */
    public String name() {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** A new event loop group of {@code threads} threads named after {@code poolName}. */
    public EventLoopGroup newGroup(int threads, String poolName) {
        IoHandlerFactory factory = switch (kind) {
            case EPOLL -> EpollIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
            case LOCAL -> LocalIoHandler.newFactory();
        };
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(poolName, true), factory);
    }

    /** The server channel class. */
    public Class<? extends ServerChannel> serverChannelClass() {
        return switch (kind) {
            case EPOLL -> EpollServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
            case LOCAL -> LocalServerChannel.class;
        };
    }

    /** The client (connecting) channel class. */
    public Class<? extends Channel> socketChannelClass() {
        return switch (kind) {
            case EPOLL -> EpollSocketChannel.class;
            case NIO -> NioSocketChannel.class;
            case LOCAL -> LocalChannel.class;
        };
    }

    /** A new, unregistered client channel of {@link #socketChannelClass()} (a socket on epoll and NIO). */
    public Channel newSocketChannel() {
        return switch (kind) {
            case EPOLL -> new EpollSocketChannel();
            case NIO -> new NioSocketChannel();
            case LOCAL -> new LocalChannel();
        };
    }

    /**
     * The address a channel of this transport connects to or binds for {@code address}: the
     * address itself on sockets; on the local transport the {@link LocalAddress}
     * {@code "host:port"}, or an ephemeral one for port 0.
     */
    public SocketAddress channelAddress(InetSocketAddress address) {
        if (kind != Kind.LOCAL) {
            return address;
        }
        if (address.getPort() == 0) {
            return LocalAddress.ANY;
        }
        return new LocalAddress(address.getHostString() + ":" + address.getPort());
    }

    /** The client's address of an accepted channel, as the proxy records it (loopback:0 on the local transport). */
    public InetSocketAddress clientAddress(Channel accepted) {
        return accepted.remoteAddress() instanceof InetSocketAddress a ? a : LOCAL_CLIENT;
    }

    /**
     * The address to connect to for a target: an IP literal becomes a resolved address without
     * any lookup; a name stays unresolved and is resolved by the connect.
     */
    public static InetSocketAddress targetAddress(String host, int port) {
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return new InetSocketAddress(InetAddress.getByAddress(host, literal), port);
            } catch (UnknownHostException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** Applies TCP keepalive to a bootstrap's (child) channel options; nothing on the local transport. */
    public void applyKeepAlive(TcpKeepAlive ka, BiConsumer<ChannelOption<?>, Object> option) {
        if (kind == Kind.LOCAL) {
            return; // no socket, no keepalive
        }
        option.accept(ChannelOption.SO_KEEPALIVE, ka.enabled());
        if (!ka.enabled()) {
            return;
        }
        int idle = (int) ka.idle().toSeconds();
        int interval = (int) ka.interval().toSeconds();
        if (kind == Kind.EPOLL) {
            option.accept(EpollChannelOption.TCP_KEEPIDLE, idle);
            option.accept(EpollChannelOption.TCP_KEEPINTVL, interval);
            option.accept(EpollChannelOption.TCP_KEEPCNT, ka.probes());
            if (!ka.userTimeout().isZero()) {
                option.accept(EpollChannelOption.TCP_USER_TIMEOUT, (int) ka.userTimeout().toMillis());
            }
        } else {
            option.accept(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), idle);
            option.accept(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), interval);
            option.accept(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), ka.probes());
        }
    }

    /**
     * Sets, on epoll, {@code TCP_NODELAY} and TCP keepalive on a listening socket as server
     * options: Linux copies a listener's socket options to each connection it accepts, so they
     * cost no system call per connection (the accepted channels' own options then leave them
     * out). Returns false, setting nothing, on the other transports: NIO's server sockets take
     * neither option, so their connections need them set one by one.
     */
    public boolean applyToListener(TcpKeepAlive ka, BiConsumer<ChannelOption<?>, Object> option) {
        if (kind != Kind.EPOLL) {
            return false;
        }
        option.accept(LISTENER_TCP_NODELAY, 1);
        option.accept(LISTENER_SO_KEEPALIVE, ka.enabled() ? 1 : 0);
        if (ka.enabled()) {
            option.accept(LISTENER_TCP_KEEPIDLE, (int) ka.idle().toSeconds());
            option.accept(LISTENER_TCP_KEEPINTVL, (int) ka.interval().toSeconds());
            option.accept(LISTENER_TCP_KEEPCNT, ka.probes());
            if (!ka.userTimeout().isZero()) {
                option.accept(LISTENER_TCP_USER_TIMEOUT, (int) ka.userTimeout().toMillis());
            }
        }
        return true;
    }

    // Linux's numbers (socket(7), tcp(7)): the epoll server channel takes raw integer options only.
    private static final int SOL_SOCKET = 1;
    private static final int IPPROTO_TCP = 6;
    private static final IntegerUnixChannelOption LISTENER_TCP_NODELAY =
            new IntegerUnixChannelOption("LISTENER_TCP_NODELAY", IPPROTO_TCP, 1);
    private static final IntegerUnixChannelOption LISTENER_SO_KEEPALIVE =
            new IntegerUnixChannelOption("LISTENER_SO_KEEPALIVE", SOL_SOCKET, 9);
    private static final IntegerUnixChannelOption LISTENER_TCP_KEEPIDLE =
            new IntegerUnixChannelOption("LISTENER_TCP_KEEPIDLE", IPPROTO_TCP, 4);
    private static final IntegerUnixChannelOption LISTENER_TCP_KEEPINTVL =
            new IntegerUnixChannelOption("LISTENER_TCP_KEEPINTVL", IPPROTO_TCP, 5);
    private static final IntegerUnixChannelOption LISTENER_TCP_KEEPCNT =
            new IntegerUnixChannelOption("LISTENER_TCP_KEEPCNT", IPPROTO_TCP, 6);
    private static final IntegerUnixChannelOption LISTENER_TCP_USER_TIMEOUT =
            new IntegerUnixChannelOption("LISTENER_TCP_USER_TIMEOUT", IPPROTO_TCP, 18);

    /** Applies {@link #applyKeepAlive} as child options of a server bootstrap or options of a bootstrap. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static BiConsumer<ChannelOption<?>, Object> optionSetter(AbstractBootstrap<?, ?> b) {
        return (o, v) -> b.option((ChannelOption) o, v);
    }
}
