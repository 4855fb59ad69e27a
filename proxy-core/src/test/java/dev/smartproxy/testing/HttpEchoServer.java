package dev.smartproxy.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
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
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP/1.1 backend (Netty), plain or TLS: answers every request with a text body of
 * {@code key=value} lines: {@code server}, {@code method}, {@code path}, {@code body-length}, and
 * each request header in lower case. Keeps connections alive and counts them.
 */
public final class HttpEchoServer implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();

    /** A plain HTTP backend reporting {@code server=name}. */
    public HttpEchoServer(String name) throws Exception {
        this(name, null);
    }

    /** A TLS backend with the test certificate for {@code dnsName}, reporting {@code server=dnsName}. */
    public static HttpEchoServer tls(String dnsName) throws Exception {
        return new HttpEchoServer(dnsName,
                SslContextBuilder.forServer(TestPki.shared().leaf(dnsName).toKeyManagerFactory()).build());
    }

    private HttpEchoServer(String name, SslContext tls) throws Exception {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(16 << 20),
                                new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        requests.incrementAndGet();
                                        Map<String, String> lines = new TreeMap<>();
                                        req.headers().forEach(h -> lines.merge(h.getKey().toLowerCase(Locale.ROOT),
                                                h.getValue(), (a, b) -> a + "," + b));
                                        StringBuilder body = new StringBuilder();
                                        body.append("server=").append(name).append('\n');
                                        body.append("method=").append(req.method()).append('\n');
                                        body.append("path=").append(new QueryStringDecoder(req.uri()).path()).append('\n');
                                        body.append("body-length=").append(req.content().readableBytes()).append('\n');
                                        lines.forEach((k, v) -> body.append(k).append('=').append(v).append('\n'));
                                        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK,
                                                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
                                        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
                                        HttpUtil.setContentLength(res, res.content().readableBytes());
                                        HttpUtil.setKeepAlive(res, HttpUtil.isKeepAlive(req));
                                        var f = ctx.writeAndFlush(res);
                                        if (!HttpUtil.isKeepAlive(req)) {
                                            f.addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                                        }
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

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** Requests answered so far. */
    public int requests() {
        return requests.get();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
