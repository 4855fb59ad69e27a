package dev.smartproxy.internal.transport;

import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.TcpKeepAlive;
import io.netty.bootstrap.AbstractBootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.NetUtil;
import jdk.net.ExtendedSocketOptions;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

import java.util.function.BiConsumer;

/** The chosen Netty transport: event loops, channel classes and the socket options it supports. */
public final class Transport {
    private final boolean epoll;
    private final OffLoopResolverGroup resolver = new OffLoopResolverGroup();

    private Transport(boolean epoll) {
        this.epoll = epoll;
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
                return new Transport(false);
            case EPOLL:
                if (!epollAvailable()) {
                    throw new IllegalStateException("transport: EPOLL is unavailable here ("
                            + Epoll.unavailabilityCause() + "); use AUTO or NIO");
                }
                return new Transport(true);
            default:
                return new Transport(epollAvailable());
        }
    }

    private static boolean epollAvailable() {
        try {
            return Epoll.isAvailable();
        } catch (LinkageError e) {
            return false;
        }
    }

    /** Whether this is the native epoll transport. */
    public boolean isEpoll() {
        return epoll;
    }

    /** {@code epoll} or {@code nio}. */
    public String name() {
        return epoll ? "epoll" : "nio";
    }

    /** A new event loop group of {@code threads} threads named after {@code poolName}. */
    public EventLoopGroup newGroup(int threads, String poolName) {
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(poolName, true), factory);
    }

    /** The server channel class. */
    public Class<? extends ServerChannel> serverChannelClass() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** The client socket channel class. */
    public Class<? extends SocketChannel> socketChannelClass() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
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

    /** Applies TCP keepalive to a bootstrap's (child) channel options. */
    public void applyKeepAlive(TcpKeepAlive ka, BiConsumer<ChannelOption<?>, Object> option) {
        option.accept(ChannelOption.SO_KEEPALIVE, ka.enabled());
        if (!ka.enabled()) {
            return;
        }
        int idle = (int) ka.idle().toSeconds();
        int interval = (int) ka.interval().toSeconds();
        if (epoll) {
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

    /** Applies {@link #applyKeepAlive} as child options of a server bootstrap or options of a bootstrap. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static BiConsumer<ChannelOption<?>, Object> optionSetter(AbstractBootstrap<?, ?> b) {
        return (o, v) -> b.option((ChannelOption) o, v);
    }
}
