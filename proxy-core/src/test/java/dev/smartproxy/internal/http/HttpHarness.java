package dev.smartproxy.internal.http;

import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.ReferenceCountUtil;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A proxy (a Netty server whose child pipeline is the strict ServerCodec and an
 * {@link HttpProxyHandler}) in front of a real Netty HTTP backend, both on 127.0.0.1:0.
 */
final class HttpHarness implements AutoCloseable {
    /** The effective policy of every harness connection: the proxy's defaults, as a plain-HTTP route gets them. */
    static final EffectivePolicy POLICY = dev.smartproxy.internal.connection.EffectivePolicies.of(ConnectionPolicy.defaults(), RoutePolicy.none(),
            ConnectionKind.PLAIN);
    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    final ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
    final List<ManagedConnection> conns = new CopyOnWriteArrayList<>();
    /** The proxy's client-side channels, in accept order. */
    final List<Channel> clientChannels = new CopyOnWriteArrayList<>();
    final Map<ManagedConnection, StringBuffer> clientWire = new ConcurrentHashMap<>();
    final List<String> routed = new CopyOnWriteArrayList<>();
    final Backend backend;
    final int deadPort;
    final HttpSettings settings;
    volatile int wsPort;
    /** Where {@code /s/...} paths go: a backend a test scripts byte by byte. */
    volatile int scriptedPort;
    volatile UpgradeHandoff handoff = (client, be) -> {
        client.close();
        be.close();
    };
    private final Channel proxy;

    HttpHarness(HttpSettings settings) throws Exception {
        this.settings = settings;
        this.backend = new Backend(group);
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort(); // closed again: connecting to it is refused
        }
        Transport transport = Transport.of(IoTransport.NIO);
        HttpRouter router = (host, path, headers) -> {
            routed.add(host + " " + path);
            if (path.startsWith("/redirect")) {
                return new HttpRoute.Redirect("redirect", 308, "https://example.com/moved");
            }
            if (path.startsWith("/blocked")) {
                return new HttpRoute.Respond("block", 403, "Forbidden");
            }
            if (path.startsWith("/dead")) {
                return new HttpRoute.Forward("dead", "127.0.0.1", deadPort);
            }
            if (path.startsWith("/s/")) {
                return new HttpRoute.Forward("scripted", "127.0.0.1", scriptedPort);
            }
            if (path.startsWith("/ws")) {
                return new HttpRoute.Forward("ws", "127.0.0.1",
                        path.equals("/ws-refuse") || path.equals("/ws-noaccept") ? backend.port() : wsPort);
            }
            return new HttpRoute.Forward("app", "127.0.0.1", backend.port());
        };
        proxy = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true) // as the proxy has it
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ManagedConnection c = registry.register(80, (InetSocketAddress) ch.remoteAddress());
                        // Routed and activated as the proxy's HTTP branch does: a real effective policy
                        // (TCP keepalive for the backend legs, the half-close grace), timers on the loop.
                        registry.routed(c, ConnectionKind.PLAIN, "(http)", null, POLICY, (task, delayNanos) -> {
                            var f = ch.eventLoop().schedule(task, delayNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
                            return () -> f.cancel(false);
                        }, reason -> ch.close());
                        conns.add(c);
                        clientChannels.add(ch);
                        StringBuffer wire = new StringBuffer();
                        clientWire.put(c, wire);
                        ch.pipeline().addLast("wire-recorder", new WireRecorder(wire));
                        ch.pipeline().addLast("http-gate", new RequestGate());
                        ch.pipeline().addLast("http-codec", HttpProxyHandler.newServerCodec(settings));
                        ch.pipeline().addLast("http-proxy", new HttpProxyHandler(settings, c, false, router,
                                new dev.smartproxy.internal.transport.BackendConnector(transport, Duration.ofSeconds(2)),
                                (client, be) -> handoff.upgraded(client, be)));
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) proxy.localAddress()).getPort();
    }

    /** Bytes written to the only client channel and not yet taken by the kernel. */
    long clientPendingOutbound() {
        Channel ch = clientChannels.get(0);
        io.netty.channel.ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }

    ManagedConnection onlyConnection() {
        assert conns.size() == 1 : conns;
        return conns.get(0);
    }

    @Override
    public void close() {
        proxy.close().syncUninterruptibly();
        backend.server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Keeps the first bytes written to a client channel, as ISO-8859-1 text. */
    static final class WireRecorder extends ChannelDuplexHandler {
        private final StringBuffer wire;

        WireRecorder(StringBuffer wire) {
            this.wire = wire;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof ByteBuf b && wire.length() < 8192) {
                wire.append(b.toString(b.readerIndex(), Math.min(b.readableBytes(), 8192),
                        StandardCharsets.ISO_8859_1));
            }
            ctx.write(msg, promise);
        }
    }

    /** What the backend saw of one request. */
    record Seen(String method, String uri, HttpHeaders headers, String connection) {
    }

    /**
     * The Netty HTTP backend. Paths: {@code /hang} never answers; {@code /upload} answers the
     * SHA-256 and length of the body; {@code /download?size=N} streams N pattern bytes;
     * {@code /echo-headers} answers with hop-by-hop headers of its own; {@code /truncate}
     * promises 100 bytes, sends 10 and closes; {@code /ws-refuse} answers 403; others 200.
     */
    static final class Backend {
        final Channel server;
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger open = new AtomicInteger();
        final AtomicLong bytes = new AtomicLong();
        final List<Seen> seen = new CopyOnWriteArrayList<>();
        /** Request trailers the backend received (any at all means the proxy forwarded some). */
        final List<HttpHeaders> trailers = new CopyOnWriteArrayList<>();
        /** 100 Continue heads written by {@code /continue-flood}; it stops at {@link #MAX_CONTINUE_HEADS}. */
        final AtomicLong continueHeads = new AtomicLong();
        /** Whether {@code /continue-flood} found its connection unwritable: the proxy stopped reading it. */
        final java.util.concurrent.atomic.AtomicBoolean floodPaused = new java.util.concurrent.atomic.AtomicBoolean();
        static final long MAX_CONTINUE_HEADS = 100_000; // 800 MB of heads: far past any sane buffer
        private static final String PAD = "p".repeat(8000);

        Backend(EventLoopGroup group) throws InterruptedException {
            server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.incrementAndGet();
                            open.incrementAndGet();
                            ch.closeFuture().addListener(f -> open.decrementAndGet());
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    bytes.addAndGet(((ByteBuf) msg).readableBytes());
                                    ctx.fireChannelRead(msg);
                                }
                            });
                            ch.pipeline().addLast(new HttpServerCodec(), new ChunkedWriteHandler(), new App());
                        }
                    })
                    .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        }

        int port() {
            return ((InetSocketAddress) server.localAddress()).getPort();
        }

        private final class App extends ChannelInboundHandlerAdapter {
            private boolean continueFlood;
            private HttpRequest request;

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                if (continueFlood) {
                    flood(ctx);
                }
                ctx.fireChannelWritabilityChanged();
            }

            private void flood(ChannelHandlerContext ctx) {
                while (ctx.channel().isActive() && ctx.channel().isWritable()
                        && continueHeads.get() < MAX_CONTINUE_HEADS) {
                    continueHeads.incrementAndGet();
                    // 8 KiB heads, so that kernel buffers fill in a few hundred heads, not hundreds of thousands
                    DefaultFullHttpResponse head = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.CONTINUE);
                    head.headers().set("X-Pad", PAD);
                    ctx.write(head);
                    if (continueHeads.get() % 8 == 0) {
                        ctx.flush();
                    }
                }
                ctx.flush();
                if (!ctx.channel().isWritable()) {
                    floodPaused.set(true);
                }
            }

            /** Writes bytes straight to the socket, past the backend's own HTTP encoder. */
            private void raw(ChannelHandlerContext ctx, String bytes) {
                ctx.pipeline().firstContext().writeAndFlush(Unpooled.copiedBuffer(bytes, StandardCharsets.ISO_8859_1));
            }
            private MessageDigest sha;
            private long count;

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
                try {
                    if (msg instanceof HttpRequest req) {
                        request = req;
                        sha = MessageDigest.getInstance("SHA-256");
                        count = 0;
                        seen.add(new Seen(req.method().name(), req.uri(), req.headers().copy(),
                                ctx.channel().id().asShortText()));
                    }
                    if (msg instanceof HttpContent c) {
                        ByteBuf b = c.content();
                        count += b.readableBytes();
                        sha.update(b.nioBuffer());
                        if (c instanceof LastHttpContent l && !l.trailingHeaders().isEmpty()) {
                            trailers.add(l.trailingHeaders().copy());
                        }
                        if (c instanceof LastHttpContent) {
                            respond(ctx);
                        }
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }

            private void respond(ChannelHandlerContext ctx) {
                QueryStringDecoder q = new QueryStringDecoder(request.uri());
                String path = q.path();
                boolean keep = HttpUtil.isKeepAlive(request);
                switch (path) {
                    case "/hang" -> {
                        // never answers
                    }
                    case "/upload" -> ctx.writeAndFlush(text(HttpResponseStatus.OK,
                            HexFormat.of().formatHex(sha.digest()) + " " + count, keep));
                    case "/download" -> {
                        long size = Long.parseLong(q.parameters().get("size").get(0));
                        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        HttpUtil.setTransferEncodingChunked(head, true);
                        ctx.write(head);
                        ctx.writeAndFlush(new HttpChunkedInput(new PatternInput(size, 42)));
                    }
                    case "/echo-headers" -> {
                        FullHttpResponse r = text(HttpResponseStatus.OK, "ok", keep);
                        r.headers().add(HttpHeaderNames.CONNECTION, "X-Resp-Hop")
                                .add("X-Resp-Hop", "1").add(HttpHeaderNames.KEEP_ALIVE, "timeout=5")
                                .add(HttpHeaderNames.PROXY_CONNECTION, "keep-alive").add("X-End", "1");
                        ctx.writeAndFlush(r);
                    }
                    case "/truncate" -> {
                        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        HttpUtil.setContentLength(head, 100);
                        ctx.write(head);
                        ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(new byte[10])))
                                .addListener(f -> ctx.close());
                    }
                    case "/ws-refuse" -> ctx.writeAndFlush(text(HttpResponseStatus.FORBIDDEN, "no upgrade", keep));
                    case "/continue-flood" -> {
                        // 100 Continue heads as fast as the proxy takes them, until it stops taking them
                        continueFlood = true;
                        flood(ctx);
                    }
                    case "/early-hints" -> raw(ctx, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
                    case "/head-body" -> raw(ctx, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                    case "/te-identity" -> raw(ctx, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n"
                            + "Content-Length: 5\r\n\r\nhello");
                    case "/status2000" -> raw(ctx, "HTTP/1.1 2000 Odd\r\nContent-Length: 0\r\n\r\n");
                    case "/ws-noaccept" -> raw(ctx, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            + "Connection: Upgrade\r\n\r\n");
                    default -> ctx.writeAndFlush(text(HttpResponseStatus.OK, "hello " + path, keep));
                }
                if (!keep && !path.equals("/hang") && !path.equals("/continue-flood")) {
                    ctx.channel().eventLoop().execute(() -> ctx.writeAndFlush(Unpooled.EMPTY_BUFFER)
                            .addListener(f -> ctx.close()));
                }
            }
        }

        private static FullHttpResponse text(HttpResponseStatus status, String body, boolean keep) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            HttpUtil.setContentLength(r, r.content().readableBytes());
            if (!keep) {
                r.headers().set(HttpHeaderNames.CONNECTION, "close");
            }
            return r;
        }
    }

    /** Deterministic pseudo-random bytes, produced in 8-byte units. */
    static final class Pattern {
        private final SplittableRandom rnd;

        Pattern(long seed) {
            rnd = new SplittableRandom(seed);
        }

        /** Fills {@code len} bytes (a multiple of 8 except possibly at the very end). */
        void fill(byte[] b, int off, int len) {
            for (int i = 0; i < len; i += 8) {
                long v = rnd.nextLong();
                for (int j = 0; j < 8 && i + j < len; j++) {
                    b[off + i + j] = (byte) (v >>> (8 * j));
                }
            }
        }

        /** The SHA-256 of the first {@code size} bytes of the pattern of {@code seed}. */
        static byte[] digest(long size, long seed) throws Exception {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            Pattern p = new Pattern(seed);
            byte[] buf = new byte[65536];
            for (long left = size; left > 0; ) {
                int n = (int) Math.min(buf.length, left);
                p.fill(buf, 0, n);
                sha.update(buf, 0, n);
                left -= n;
            }
            return sha.digest();
        }
    }

    /** Streams pattern bytes in 64 KiB chunks, as fast as the channel takes them. */
    static final class PatternInput implements ChunkedInput<ByteBuf> {
        private final Pattern pattern;
        private final long size;
        private long sent;

        PatternInput(long size, long seed) {
            this.size = size;
            this.pattern = new Pattern(seed);
        }

        @Override
        public boolean isEndOfInput() {
            return sent >= size;
        }

        @Override
        public void close() {
        }

        @Deprecated
        @Override
        public ByteBuf readChunk(ChannelHandlerContext ctx) {
            return readChunk(ctx.alloc());
        }

        @Override
        public ByteBuf readChunk(ByteBufAllocator allocator) {
            if (isEndOfInput()) {
                return null;
            }
            int n = (int) Math.min(65536, size - sent);
            byte[] b = new byte[n];
            pattern.fill(b, 0, n);
            sent += n;
            return Unpooled.wrappedBuffer(b);
        }

        @Override
        public long length() {
            return size;
        }

        @Override
        public long progress() {
            return sent;
        }
    }

    // ------------------------------------------------------------------ raw client

    /** A raw HTTP/1.1 client over a plain socket. */
    static final class Raw implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Raw(int port) throws IOException {
            this(connect(port));
        }

        /** Reads and writes through an already connected socket (blocking). */
        Raw(Socket socket) throws IOException {
            this.socket = socket;
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        private static Socket connect(int port) throws IOException {
            Socket socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            socket.setSoTimeout(10_000);
            return socket;
        }

        Raw send(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return this;
        }

        String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    String s = b.toString(StandardCharsets.ISO_8859_1);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                b.write(c);
            }
            return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
        }

        /** Reads one response: status line, headers, and the body as framed. */
        Response response() throws IOException {
            String status = line();
            if (status == null) {
                throw new IOException("connection closed before a response");
            }
            Map<String, List<String>> headers = new LinkedHashMap<>();
            String l;
            while ((l = line()) != null && !l.isEmpty()) {
                int colon = l.indexOf(':');
                headers.computeIfAbsent(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                        .add(l.substring(colon + 1).trim());
            }
            int code = Integer.parseInt(status.split(" ")[1]);
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            String te = first(headers, "transfer-encoding");
            String cl = first(headers, "content-length");
            if (code / 100 == 1 || code == 204 || code == 304) {
                // no body
            } else if (te != null && te.toLowerCase(Locale.ROOT).endsWith("chunked")) {
                while (true) {
                    int size = Integer.parseInt(line().trim(), 16);
                    if (size == 0) {
                        while (!line().isEmpty()) {
                            // trailers
                        }
                        break;
                    }
                    body.write(in.readNBytes(size));
                    line();
                }
            } else if (cl != null) {
                body.write(in.readNBytes(Integer.parseInt(cl)));
            } else {
                body.write(in.readAllBytes());
            }
            return new Response(code, headers, body.toString(StandardCharsets.ISO_8859_1));
        }

        /** Whether the peer closed the connection (end of stream) rather than sending more. */
        boolean closedByPeer() throws IOException {
            try {
                return in.read() == -1;
            } catch (java.net.SocketException reset) {
                return true;
            }
        }

        private static String first(Map<String, List<String>> h, String name) {
            List<String> v = h.get(name);
            return v == null ? null : v.get(0);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    record Response(int status, Map<String, List<String>> headers, String body) {
        String header(String name) {
            List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
            return v == null ? null : String.join(", ", v);
        }
    }

    static HttpHeaders headers() {
        return new DefaultHttpHeaders();
    }
}
