package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.metrics.BackendCounters;

import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.config.TcpKeepAlive;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.ssl.SslContext;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The one way a backend connection is made, for the TCP relay and the HTTP proxy alike: on the
 * client's event loop (so the two legs share a thread and need no locks), with the transport's
 * channel class and off-loop name resolution, the connect timeout, {@code TCP_NODELAY}, the
 * proxy's write-buffer water marks, TCP keepalive from the connection's effective policy, and,
 * for re-encryption, TLS with SNI right after the raw byte counter; with a {@link ProxyHeader},
 * the PROXY protocol header before any other byte (and before TLS).
 *
 * <p>Thread-safe; one per proxy.
 * <pre>{@code
 * ChannelFuture f = connector.connect(client, address, policy.tcpKeepAlive(), true, counter, null, null, null,
 *     p -> p.addLast(PipelineNames.BACKEND, relay));
 * }</pre>
 */
public final class BackendConnector {
    private static final Logger log = LoggerFactory.getLogger(BackendConnector.class);
    /**
     * Per-direction buffering, on client and backend channels: a leg stops being read once this
     * much is queued for the other side (low 64 KiB, high 256 KiB).
     */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    private final Transport transport;
    private final int connectTimeoutMillis;
    /** What the HTTP proxy keeps per event loop for this connector's connections (its idle-connection pool). */
    private final ConcurrentHashMap<io.netty.util.concurrent.EventExecutor, Object> perLoop = new ConcurrentHashMap<>();

    /**
     * @param transport      channel classes, resolver and socket options
     * @param connectTimeout how long a connect may take
     */
    public BackendConnector(Transport transport, Duration connectTimeout) {
        this.transport = Objects.requireNonNull(transport, "transport");
        this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
    }

    /**
     * The state of type {@code type} this connector keeps for {@code loop}, made by {@code create}
     * on first use: per proxy and per event loop, so that what it holds is confined to that loop's
     * thread. One type per connector (the HTTP proxy's backend pool).
     */
    public <T> T perLoop(io.netty.util.concurrent.EventExecutor loop, Class<T> type,
                         Function<io.netty.util.concurrent.EventExecutor, ? extends T> create) {
        Object o = perLoop.get(loop);
        if (o == null) {
            o = perLoop.computeIfAbsent(loop, create);
        }
        return type.cast(o);
    }

    /**
     * The last handler of a backend channel's pipeline that counts the channel's close in its
     * backend's counters itself (when the channel goes inactive), so that the connector adds no
     * close listener to it: the TCP relay (one handler on both legs), which lives as long as the channel.
     */
    public interface CountsOwnClose {
        /** The connect succeeded: count the channel's close in {@code counters}, once. */
        void countCloseIn(BackendCounters counters);
    }

    /** The transport the connections use. */
    public Transport transport() {
        return transport;
    }

    /**
     * As {@link #connect(Channel, InetSocketAddress, TcpKeepAlive, boolean, ChannelHandler, SslContext, String,
     * ProxyHeader, Consumer)}, counted for {@code conn}: the backend's counters ({@code host:port} as
     * {@code address} names it) record the connect time or the failure and the connection's close,
     * and listeners hear {@code onBackendConnected} before the caller's own listeners run.
     */
    public ChannelFuture connect(ManagedConnection conn, Channel client, InetSocketAddress address,
                                 TcpKeepAlive keepAlive, boolean allowHalfClosure, ChannelHandler rawCounter,
                                 SslContext tls, String sni, ProxyHeader proxyHeader,
                                 Consumer<ChannelPipeline> handlers) {
        BackendCounters counters = conn.telemetry().metrics().backend(address.getHostString() + ":" + address.getPort());
        long start = System.nanoTime();
        ChannelFuture f = connect(client, address, keepAlive, allowHalfClosure, rawCounter, tls, sni, proxyHeader,
                handlers);
        f.addListener((ChannelFuture done) -> {
            if (done.isSuccess()) {
                long nanos = System.nanoTime() - start;
                counters.connected(nanos);
                if (done.channel().pipeline().last() instanceof CountsOwnClose own) {
                    own.countCloseIn(counters); // no close listener per backend channel
                } else {
                    done.channel().closeFuture().addListener(closed -> counters.closed());
                }
                conn.telemetry().backendConnected(conn, done.channel().remoteAddress() instanceof InetSocketAddress r
                        ? r : address, nanos);
            } else {
                counters.failed();
            }
        });
        return f;
    }

    /**
     * Starts a connect to {@code address} on {@code client}'s event loop.
     *
     * @param client           the client channel whose event loop the backend shares
     * @param address          resolved, or unresolved (then resolved off the event loops)
     * @param keepAlive        TCP keepalive for the backend socket; null: the kernel's defaults
     * @param allowHalfClosure whether a backend FIN is an input shutdown (the TCP relay) or a close
     * @param rawCounter       first in the pipeline, before TLS: counts the bytes on the wire (null: none)
     * @param tls              the client TLS context for re-encryption, or null for plain TCP
     * @param sni              the SNI to send with {@code tls} (null: none)
     * @param proxyHeader      the PROXY protocol header to send first (null: none)
     * @param handlers         adds the protocol's handlers, after TLS if any
     * @return the connect future; its channel is the backend channel
     */
    public ChannelFuture connect(Channel client, InetSocketAddress address, TcpKeepAlive keepAlive,
                                 boolean allowHalfClosure, ChannelHandler rawCounter, SslContext tls, String sni,
                                 ProxyHeader proxyHeader, Consumer<ChannelPipeline> handlers) {
        ChannelInitializer<Channel> init = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                if (rawCounter != null) {
                    ch.pipeline().addLast(PipelineNames.BYTES, rawCounter);
                }
                if (proxyHeader != null) {
                    ch.pipeline().addLast(PipelineNames.BACKEND_PROXY_HEADER, new ProxyHeaderWriter(proxyHeader));
                }
                if (tls != null) {
                    ch.pipeline().addLast(PipelineNames.BACKEND_TLS, tls.newHandler(ch.alloc(), sni, address.getPort()));
                }
                handlers.accept(ch.pipeline());
            }
        };
        if (!address.isUnresolved()) {
            ChannelFuture direct = connectDirect(client.eventLoop(), address, keepAlive, allowHalfClosure, init);
            if (direct != null) {
                return direct;
            }
        }
        Bootstrap b = new Bootstrap()
                .group(client.eventLoop())
                .channelFactory(() -> newChannel(keepAlive, allowHalfClosure))
                .resolver(transport.resolver())
                .handler(init);
        return b.connect(transport.channelAddress(address));
    }

    /**
     * What {@link Bootstrap#connect} does for an address that needs no lookup, without a
     * bootstrap per connection (its option and attribute maps, copied again as it connects) and
     * without the task it schedules to connect: the channel is made, configured, registered on
     * {@code loop} (inline on that loop: {@code init} adds the handlers and they see
     * {@code channelRegistered} first, as with a bootstrap) and connected; a failed connect closes
     * it. Returns null if the channel cannot be made (then the bootstrap's path reports why).
     */
    private ChannelFuture connectDirect(EventLoop loop, InetSocketAddress address, TcpKeepAlive keepAlive,
                                        boolean allowHalfClosure, ChannelInitializer<Channel> init) {
        Channel ch;
        try {
            ch = newChannel(keepAlive, allowHalfClosure);
        } catch (RuntimeException e) {
            return null;
        }
        ch.pipeline().addLast(init);
        ChannelPromise connected = ch.newPromise();
        SocketAddress target = transport.channelAddress(address);
        ChannelFuture registered = loop.register(ch);
        if (registered.isDone()) {
            connectRegistered(registered, target, connected);
        } else {
            registered.addListener((ChannelFuture r) -> connectRegistered(r, target, connected));
        }
        return connected;
    }

    private static void connectRegistered(ChannelFuture registered, SocketAddress target, ChannelPromise connected) {
        Channel ch = registered.channel();
        if (!registered.isSuccess()) {
            connected.setFailure(registered.cause());
            if (ch.isRegistered()) {
                ch.close();
            } else {
                ch.unsafe().closeForcibly();
            }
            return;
        }
        ch.connect(target, connected);
        connected.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    /**
     * A backend channel with its options: the same for every connect, with a bootstrap or
     * without. A socket option the kernel refuses is logged and left, as a bootstrap does, so
     * the channel is never half made.
     */
    private Channel newChannel(TcpKeepAlive keepAlive, boolean allowHalfClosure) {
        Channel ch = transport.newSocketChannel();
        ChannelConfig cfg = ch.config();
        cfg.setConnectTimeoutMillis(connectTimeoutMillis);
        cfg.setWriteBufferWaterMark(WATER_MARK);
        cfg.setAllocator(Transport.allocator());
        if (transport.hasSockets()) { // local channels have none of these
            cfg.setRecvByteBufAllocator(ReadSizes.SOCKETS); // shared: no sizer objects per channel
            if (!transport.isEpoll()) {
                setOption(cfg, ChannelOption.TCP_NODELAY, true); // an epoll channel sets it as it is made
            }
            if (allowHalfClosure) {
                setOption(cfg, ChannelOption.ALLOW_HALF_CLOSURE, true);
            }
        }
        if (keepAlive != null) {
            transport.applyKeepAlive(keepAlive, (o, v) -> setOption(cfg, o, v));
        }
        return ch;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void setOption(ChannelConfig cfg, ChannelOption<?> o, Object v) {
        try {
            if (!cfg.setOption((ChannelOption) o, v)) {
                log.warn("backend connection: the channel has no option {}", o);
            }
        } catch (RuntimeException e) {
            log.warn("backend connection: cannot set {} to {}: {}", o, v, e.toString());
        }
    }
}
