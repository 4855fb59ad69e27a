package dev.smartproxy.examples;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The WebSocket side of the benchmark ({@code bench/compare-ws.sh}): an echo backend and a load
 * generator, both on Netty, so that the proxy, not the peers, is what is measured.
 *
 * <pre>
 * java -jar smartproxy-examples.jar ws-echo --listen 127.0.0.1:9000
 * java -jar smartproxy-examples.jar ws-load --url wss://127.0.0.1:8443/ --connections 64 --seconds 8 \
 *     [--warmup 2] [--size 32] [--window 1] [--sni a.test]
 * </pre>
 *
 * <p>{@code ws-load} opens its connections (TLS without certificate checks for {@code wss}), sends
 * {@code window} text frames of {@code size} bytes on each, and sends one more for every echo it
 * receives; after the warm-up it counts echoes and their round trips for {@code seconds}, then
 * prints one line: {@code msgs_per_s=... p50_us=... p99_us=... connections=... errors=...}.
 */
final class WsBench {
    private WsBench() {
    }

    private static EventLoopGroup group(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, Epoll.isAvailable() ? EpollIoHandler.newFactory()
                : NioIoHandler.newFactory());
    }

    /** {@code ws-echo}: echoes every text frame on any path, plain WebSocket. Runs until killed. */
    static void echo(String[] args) throws InterruptedException {
        String[] hp = PassthroughMain.hostPort("--listen", option(args, "--listen", "127.0.0.1:9000"));
        InetSocketAddress listen = new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
        EventLoopGroup g = group(Integer.parseInt(option(args, "--threads", "1")));
        Channel server = new ServerBootstrap().group(g)
                .channel(Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8192),
                                new WebSocketServerProtocolHandler("/", null, true, 65536, false, true),
                                new Echo());
                    }
                }).bind(listen).sync().channel();
        System.out.println("ws-echo listening on " + server.localAddress());
        server.closeFuture().sync();
    }

    /** Writes each text frame back; flushes once per read burst. */
    private static final class Echo extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        Echo() {
            super(false);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
            ctx.write(frame, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** {@code ws-load}: see the class comment. */
    static void load(String[] args) throws Exception {
        URI url = URI.create(option(args, "--url", "wss://127.0.0.1:8443/"));
        int connections = Integer.parseInt(option(args, "--connections", "64"));
        int seconds = Integer.parseInt(option(args, "--seconds", "8"));
        int warmup = Integer.parseInt(option(args, "--warmup", "2"));
        int size = Integer.parseInt(option(args, "--size", "32"));
        int window = Integer.parseInt(option(args, "--window", "1"));
        String sni = option(args, "--sni", "a.test");
        boolean tls = "wss".equals(url.getScheme());
        SslContext ssl = tls ? SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .protocols("TLSv1.3").build() : null;
        String text = "x".repeat(size);
        EventLoopGroup g = group(2);
        List<Client> clients = new ArrayList<>();
        CountDownLatch ready = new CountDownLatch(connections);
        try {
            for (int i = 0; i < connections; i++) {
                Client c = new Client(text, window, ready);
                clients.add(c);
                new Bootstrap().group(g).channel(Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true)
                        .handler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel ch) {
                                if (ssl != null) {
                                    ch.pipeline().addLast(ssl.newHandler(ch.alloc(), sni, url.getPort()));
                                }
                                ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(8192),
                                        new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
                                                .webSocketUri(url).handshakeTimeoutMillis(10_000)
                                                .maxFramePayloadLength(65536).build()), c);
                            }
                        }).connect(url.getHost(), url.getPort()).sync();
            }
            if (!ready.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("only " + (connections - ready.getCount()) + " of " + connections
                        + " WebSocket handshakes completed in 30 s");
            }
            Thread.sleep(warmup * 1000L);
            for (Client c : clients) {
                c.channel.eventLoop().submit(c::startMeasuring).sync();
            }
            long t0 = System.nanoTime();
            Thread.sleep(seconds * 1000L);
            long[] all;
            long count = 0;
            long errors = 0;
            List<long[]> parts = new ArrayList<>();
            for (Client c : clients) {
                long[] rtts = c.channel.eventLoop().submit(c::stopMeasuring).get();
                parts.add(rtts);
                count += rtts.length;
                errors += c.errors;
            }
            double elapsed = (System.nanoTime() - t0) / 1e9;
            all = new long[(int) count];
            int at = 0;
            for (long[] p : parts) {
                System.arraycopy(p, 0, all, at, p.length);
                at += p.length;
            }
            Arrays.sort(all);
            System.out.printf("msgs_per_s=%.0f p50_us=%d p99_us=%d connections=%d errors=%d%n", count / elapsed,
                    percentile(all, 0.50) / 1000, percentile(all, 0.99) / 1000, connections, errors);
        } finally {
            for (Client c : clients) {
                if (c.channel != null) {
                    c.channel.close();
                }
            }
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static long percentile(long[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))];
    }

    /** One connection: keeps {@code window} frames in flight, times each round trip (echoes come in order). */
    private static final class Client extends SimpleChannelInboundHandler<TextWebSocketFrame> {
        private final String text;
        private final int window;
        private final CountDownLatch ready;
        private final ArrayDeque<Long> sentAt = new ArrayDeque<>();
        private Channel channel;
        private boolean measuring;
        private long[] rtts = new long[1024];
        private int n;
        long errors;

        Client(String text, int window, CountDownLatch ready) {
            this.text = text;
            this.window = window;
            this.ready = ready;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                channel = ctx.channel();
                for (int i = 0; i < window; i++) {
                    send(ctx);
                }
                ctx.flush();
                ready.countDown();
            }
            super.userEventTriggered(ctx, evt);
        }

        private void send(ChannelHandlerContext ctx) {
            sentAt.add(System.nanoTime());
            ctx.write(new TextWebSocketFrame(text), ctx.voidPromise());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, TextWebSocketFrame frame) {
            ByteBuf content = frame.content();
            if (content.readableBytes() != text.length()
                    || !content.toString(StandardCharsets.US_ASCII).equals(text)) {
                errors++;
            }
            Long at = sentAt.poll();
            if (measuring && at != null) {
                if (n == rtts.length) {
                    rtts = Arrays.copyOf(rtts, n * 2);
                }
                rtts[n++] = System.nanoTime() - at;
            }
            send(ctx);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            errors++;
            ctx.close();
        }

        void startMeasuring() {
            n = 0;
            measuring = true;
        }

        long[] stopMeasuring() {
            measuring = false;
            return Arrays.copyOf(rtts, n);
        }
    }

    private static String option(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }
}
