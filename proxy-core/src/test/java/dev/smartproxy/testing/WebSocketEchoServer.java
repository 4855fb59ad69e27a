package dev.smartproxy.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real WebSocket server (Netty's HTTP codec and WebSocket protocol handler), over TLS with
 * the test certificate for its name or plain: echoes every text frame on path {@code /echo},
 * answers pings, and counts the pings it receives and its open connections.
 */
public final class WebSocketEchoServer implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final AtomicInteger echoed = new AtomicInteger();
    private final AtomicInteger pings = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();

    /** A TLS WebSocket server for {@code dnsName}. */
    public WebSocketEchoServer(String dnsName) throws Exception {
        this(dnsName, true);
    }

    /** A WebSocket server, over TLS for {@code dnsName} when {@code tls}, plain otherwise. */
    public WebSocketEchoServer(String dnsName, boolean useTls) throws Exception {
        SslContext tls = useTls
                ? SslContextBuilder.forServer(TestPki.shared().leaf(dnsName).toKeyManagerFactory()).build() : null;
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        open.incrementAndGet();
                        ch.closeFuture().addListener(f -> open.decrementAndGet());
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(),
                                new HttpObjectAggregator(64 * 1024),
                                new io.netty.channel.ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof io.netty.handler.codec.http.websocketx.PingWebSocketFrame) {
                                            pings.incrementAndGet();
                                        }
                                        ctx.fireChannelRead(msg);
                                    }
                                },
                                new WebSocketServerProtocolHandler("/echo"),
                                new SimpleChannelInboundHandler<TextWebSocketFrame>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame f) {
                                        echoed.incrementAndGet();
                                        ctx.writeAndFlush(new TextWebSocketFrame("echo: " + f.text()));
                                    }
                                });
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
    }

    /** The bound port. */
    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Ping frames received so far, from whoever sent them. */
    public int pingsReceived() {
        return pings.get();
    }

    /** Connections open now. */
    public int openConnections() {
        return open.get();
    }

    /** Text frames echoed so far. */
    public int echoed() {
        return echoed.get();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
