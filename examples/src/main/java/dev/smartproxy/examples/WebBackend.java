package dev.smartproxy.examples;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The demo's web backend (Netty), plain or TLS: answers an HTTP request with the
 * {@code X-Forwarded-*} headers it received, echoes WebSocket text on {@code /echo}, and counts
 * the WebSocket pings it receives (Netty answers them).
 */
final class WebBackend implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final AtomicInteger pings = new AtomicInteger();
    private final Channel server;

    /** Starts on an ephemeral loopback port; {@code tls} null means plain. */
    WebBackend(String name, SslContext tls) throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof PingWebSocketFrame) {
                                            pings.incrementAndGet(); // counted here, answered by the next handler
                                        }
                                        ctx.fireChannelRead(msg);
                                    }
                                },
                                new WebSocketServerProtocolHandler("/echo"),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        try {
                                            if (msg instanceof TextWebSocketFrame frame) {
                                                ctx.writeAndFlush(new TextWebSocketFrame(name + " echoes: " + frame.text()));
                                            } else if (msg instanceof FullHttpRequest request) {
                                                ctx.writeAndFlush(answer(name, request))
                                                        .addListener(ChannelFutureListener.CLOSE);
                                            }
                                        } finally {
                                            ReferenceCountUtil.release(msg);
                                        }
                                    }
                                });
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
    }

    private static FullHttpResponse answer(String name, FullHttpRequest request) {
        String body = "hello from " + name + "; " + request.method() + " " + request.uri()
                + "; X-Forwarded-Host: " + request.headers().get("X-Forwarded-Host")
                + "; X-Forwarded-Proto: " + request.headers().get("X-Forwarded-Proto") + "\n";
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        HttpUtil.setContentLength(response, response.content().readableBytes());
        HttpUtil.setKeepAlive(response, false);
        return response;
    }

    /** The bound port. */
    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** WebSocket pings received so far, on every connection. */
    int pingsReceived() {
        return pings.get();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
