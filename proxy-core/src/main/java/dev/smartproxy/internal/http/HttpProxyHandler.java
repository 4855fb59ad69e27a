package dev.smartproxy.internal.http;

import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.internal.util.Checks;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import dev.smartproxy.internal.transport.ByteCounter;
import dev.smartproxy.internal.PipelineNames;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/1.1 reverse proxy of one terminated client connection.
 *
 * <h2>Pipeline</h2>
 * Client channel, in order: [{@code SslHandler} when TLS is terminated] &rarr;
 * {@link HttpServerCodec} (preferably {@link #newServerCodec(HttpSettings)}, which pins Netty's
 * strict parsing; a plain {@code new HttpServerCodec(maxInitialLineLength, maxHeaderSize, 8192)}
 * works too) &rarr; this handler, last. No {@code HttpObjectAggregator}: bodies stream. Each
 * backend channel this handler opens gets [{@code SslHandler}] &rarr; {@link HttpClientCodec}
 * &rarr; the backend leg handler.
 *
 * <h2>Behaviour</h2>
 * One request at a time: the client is not read while a response is in flight, so pipelined
 * requests wait in the kernel. Each request is routed by the {@link HttpRouter}; a
 * {@link HttpRoute.Forward} is sent to a backend connected on the client's event loop, reused for
 * the next request to the same target while both sides keep it alive. Hop-by-hop headers are
 * removed both ways; {@code X-Forwarded-For/Proto/Host} are set. Malformed or ambiguous requests
 * (bad syntax, lines or headers over the limits, Content-Length with Transfer-Encoding,
 * duplicate Content-Length, a Transfer-Encoding not ending in chunked, bad chunk syntax) get 400
 * (431 for headers too large), are never forwarded, and close the connection with
 * {@link CloseReason#PROTOCOL_ERROR}. Bodies over {@link HttpSettings#maxRequestBodySize()} get
 * 413. A backend that cannot be reached gets the client 502; one that sends no response headers
 * within {@link HttpSettings#responseTimeout()} after the request, 504. A WebSocket upgrade
 * answered 101 is handed to the {@link UpgradeHandoff}.
 *
 * <p>Created per client connection; all state is confined to the client's event loop, which
 * the backend channels share. Does not count bytes in the connection record.
 */
public final class HttpProxyHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);

    private static final String X_FORWARDED_FOR = "x-forwarded-for";
    private static final String X_FORWARDED_PROTO = "x-forwarded-proto";
    private static final String X_FORWARDED_HOST = "x-forwarded-host";
    private static final String X_FORWARDED_PREFIX = "x-forwarded-";
    /** Framing and routing headers a client's {@code Connection} list must never remove. */
    private static final Set<String> PROTECTED = Set.of("content-length", "transfer-encoding", "host");

    private final HttpSettings settings;
    private final ManagedConnection conn;
    private final boolean clientTls;
    private final HttpRouter router;
    private final BackendConnector connector;
    private final UpgradeHandoff handoff;
    private final RequestPath.EncodedSlash encodedSlash;

    private Channel client;
    /** Holds client bytes back from the decoder while this handler does not read; null if absent. */
    private RequestGate gate;
    /** Client messages that arrived while a previous exchange was still in flight. */
    private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
    private Exchange ex;
    private BackendLeg leg;
    private boolean closing;
    private io.netty.util.concurrent.ScheduledFuture<?> requestTimer;
    private boolean handedOff;
    private boolean clientInputClosed;
    private boolean draining;
    /** Watches a request body's progress; see {@link HttpSettings#requestBodyTimeout()}. */
    private ScheduledFuture<?> bodyTimer;
    /** When the body last moved, or the proxy last resumed reading it (event-loop ticker nanos). */
    private long lastBodyNanos;
    /** Where the body-rate window starts: the body's start, or the proxy's last resumption of reading. */
    private long rateSinceNanos;
    private long rateSinceBytes;

    /**
     * @param settings       limits and header policy
     * @param conn           the connection record: close reasons and the log prefix
     * @param clientTls      whether the client connection is TLS (sets {@code X-Forwarded-Proto})
     * @param router         routes each request
     * @param connector      makes backend connections
     * @param handoff        takes over connections upgraded to WebSocket
     */
    public HttpProxyHandler(HttpSettings settings, ManagedConnection conn, boolean clientTls, HttpRouter router,
                            BackendConnector connector, UpgradeHandoff handoff) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.conn = Objects.requireNonNull(conn, "conn");
        this.clientTls = clientTls;
        this.router = Objects.requireNonNull(router, "router");
        this.connector = Objects.requireNonNull(connector, "connector");
        this.handoff = Objects.requireNonNull(handoff, "handoff");
        this.encodedSlash = switch (settings.encodedSlashes()) {
            case REJECT -> RequestPath.EncodedSlash.REJECT;
            case DECODE -> RequestPath.EncodedSlash.DECODE;
            case KEEP -> RequestPath.EncodedSlash.KEEP;
        };
    }

    /**
     * The client-side codec to install just before this handler: Netty's {@link HttpServerCodec}
     * with the limits of {@code settings} and strict parsing pinned (RFC 9112 transfer-encoding
     * rules, no duplicate Content-Length, CRLF line endings, header validation), whatever the
     * JVM's system properties say.
     */
    public static HttpServerCodec newServerCodec(HttpSettings settings) {
        return new HttpServerCodec(strictConfig(settings.maxInitialLineLength(), settings.maxHeaderSize()),
                MAX_PIPELINE_DEPTH);
    }

    /**
     * Requests the codec may decode ahead of their responses. Netty's default, 128, would end a
     * connection that pipelines more than fit in one {@link RequestGate} slice; a slice of
     * {@value RequestGate#SLICE} bytes holds at most ~320 minimal requests.
     */
    private static final int MAX_PIPELINE_DEPTH = 1024;

    /**
     * Interim (1xx) responses forwarded for one request; past it the backend is treated as
     * broken (502). A real backend sends one or two (100 Continue, 103 Early Hints), or a 102
     * every few seconds of a long request; a flood of them costs far more than their bytes
     * suggest (every tiny head is an object, a write and, over TLS, a record of its own).
     */
    static final int MAX_INTERIM_HEADS = 64;

    private static HttpDecoderConfig strictConfig(int maxLine, int maxHeaders) {
        return new HttpDecoderConfig().setMaxInitialLineLength(maxLine).setMaxHeaderSize(maxHeaders)
                .setMaxChunkSize(8192).setValidateHeaders(true).setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true).setUseRfc9112TransferEncoding(true);
    }

    // ------------------------------------------------------------------ client side

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        client = ctx.channel();
        gate = ctx.pipeline().get(RequestGate.class);
        armRequestTimer();
    }

    /** Waits for the next request head: from the connection's start, and after each kept-alive exchange. */
    private void armRequestTimer() {
        Duration timeout = settings.requestTimeout();
        if (timeout.isZero() || closing || handedOff) {
            return;
        }
        cancelRequestTimer();
        requestTimer = client.eventLoop().schedule(() -> {
            requestTimer = null;
            if (ex == null && !closing && !handedOff) {
                log.debug("{}no request head within {}", conn.log(), timeout);
                closeClient(CloseReason.REQUEST_TIMEOUT);
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void cancelRequestTimer() {
        if (requestTimer != null) {
            requestTimer.cancel(false);
            requestTimer = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing || handedOff || !(msg instanceof HttpObject obj)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!queued.isEmpty() || (ex != null && ex.requestComplete) || (ex == null && !client.isWritable())) {
            // A pipelined request decoded from the same read: it waits for the current exchange,
            // or for the client to take the responses already written (a client that pipelines
            // and never reads must not make the proxy answer, and buffer, without end).
            queued.add(obj);
            client.config().setAutoRead(false);
            return;
        }
        handle(obj);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        flushBackend();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (client.isWritable() && !closing && !handedOff) {
            if (leg != null && leg.ch.isActive()) {
                leg.ch.config().setAutoRead(true);
            }
            if (ex == null && !queued.isEmpty()) {
                drain();
            } else {
                updateClientRead();
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            clientInputClosed = true;
            log.debug("{}client sent FIN", conn.log());
            conn.clientInputClosed(); // the half-close grace bounds whatever is still in flight
            if (ex == null && queued.isEmpty()) {
                closeClient(CloseReason.CLIENT_CLOSED);
            } else {
                abortIfIncomplete();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A client that fails the handshake (distrusts the certificate, speaks no shared protocol,
        // sends garbage), resets or vanishes is routine: a reason and one line, no stack trace.
        CloseReason why = CloseReasons.of(cause, CloseReasons.Leg.CLIENT);
        if (CloseReasons.expected(why)) {
            log.debug("{}client error ({}): {}", conn.log(), why, cause.toString());
        } else {
            log.warn("{}unexpected error on the HTTP client leg", conn.log(), cause);
        }
        conn.closeReason(why);
        closing = true;
        releaseQueued();
        closeLeg();
        client.close();
    }

    /**
     * After a client FIN, a request that is not complete can never be: its exchange ends at
     * once, with its backend leg, instead of waiting for a body or an upgrade that cannot come.
     */
    private void abortIfIncomplete() {
        Exchange e = ex;
        if (!clientInputClosed || closing || !queued.isEmpty() || e == null
                || (e.requestComplete && !e.upgradePending)) {
            return;
        }
        log.debug("{}client sent FIN with its request incomplete: aborting the exchange", conn.log());
        closeLeg();
        closeClient(CloseReason.CLIENT_CLOSED);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        conn.closeReason(CloseReason.CLIENT_CLOSED); // kept only if nothing else closed it first
        closing = true;
        releaseQueued();
        cancelTimer();
        cancelRequestTimer();
        cancelBodyTimer();
        if (!handedOff) {
            closeLeg();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseQueued();
    }

    private void handle(HttpObject msg) {
        if (msg instanceof HttpRequest req) {
            cancelRequestTimer();
            if (req.decoderResult().isFailure() || msg instanceof HttpContent) {
                ReferenceCountUtil.release(msg);
                rejectHead(req.decoderResult().isFailure() ? req.decoderResult().cause()
                        : new IllegalStateException("unexpected full request"));
                return;
            }
            onRequestHead(req);
        } else if (msg instanceof HttpContent c) {
            onRequestContent(c);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void rejectHead(Throwable cause) {
        HttpResponseStatus status = cause instanceof TooLongHttpHeaderException
                ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : HttpResponseStatus.BAD_REQUEST;
        log.debug("{}rejected a malformed request ({}): {}", conn.log(), status.code(), cause.toString());
        respondAndClose(status, CloseReason.PROTOCOL_ERROR);
    }

    private void badRequest(String why) {
        log.debug("{}rejected a request: {}", conn.log(), why);
        respondAndClose(HttpResponseStatus.BAD_REQUEST, CloseReason.PROTOCOL_ERROR);
    }

    private void onRequestHead(HttpRequest req) {
        HttpHeaders h = req.headers();
        if (h.size() > settings.maxHeaderCount()) {
            log.debug("{}rejected a request with {} header fields (limit {})", conn.log(), h.size(),
                    settings.maxHeaderCount());
            respondAndClose(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, CloseReason.PROTOCOL_ERROR);
            return;
        }
        if (req.method().equals(HttpMethod.CONNECT)) {
            log.debug("{}rejected a CONNECT request", conn.log());
            respondAndClose(HttpResponseStatus.METHOD_NOT_ALLOWED, CloseReason.PROTOCOL_ERROR);
            return;
        }
        // Netty's strict decoder already rejects these; checked again so that no decoder setting
        // (a system property, a lenient codec) can let an ambiguous request through.
        List<String> lengths = h.getAll(HttpHeaderNames.CONTENT_LENGTH);
        List<String> codings = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!codings.isEmpty() && !lengths.isEmpty()) {
            badRequest("both Content-Length and Transfer-Encoding");
            return;
        }
        if (lengths.size() > 1) {
            badRequest("more than one Content-Length");
            return;
        }
        if (!codings.isEmpty() && (req.protocolVersion().equals(HttpVersion.HTTP_1_0) || !finalChunked(codings))) {
            badRequest("Transfer-Encoding " + codings + " (expected: ending in a single chunked, HTTP/1.1)");
            return;
        }
        if (!codings.isEmpty() && !knownCodings(codings)) {
            log.debug("{}rejected Transfer-Encoding {} (501): a coding the proxy does not know", conn.log(), codings);
            respondAndClose(HttpResponseStatus.NOT_IMPLEMENTED, CloseReason.PROTOCOL_ERROR);
            return;
        }
        List<String> hosts = h.getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            badRequest("more than one Host header");
            return;
        }
        Target parsed = Target.parse(req.method(), req.uri());
        if (parsed == null) {
            badRequest("request target '" + abbreviate(req.uri()) + "'");
            return;
        }
        Target target;
        try {
            // Routed and forwarded normalised, so that no spelling of a path sidesteps a path rule.
            target = parsed.withPath(RequestPath.normalize(parsed.path, settings.mergeSlashes(), encodedSlash));
        } catch (RequestPath.Rejected rejected) {
            badRequest("request path: " + rejected.getMessage());
            return;
        }
        String hostValue = target.authority != null ? target.authority : hosts.isEmpty() ? null : hosts.get(0);
        if (hostValue == null && !req.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
            badRequest("no Host header");
            return;
        }
        String host;
        try {
            host = hostValue == null ? null : routingHost(hostValue);
        } catch (IllegalArgumentException e) {
            badRequest("Host '" + abbreviate(hostValue) + "'");
            return;
        }
        long max = settings.maxRequestBodySize();
        long declared = lengths.isEmpty() ? -1 : HttpUtil.getContentLength(req, -1L);
        if (max > 0 && declared > max) {
            log.debug("{}request body of {} bytes is over the limit of {}", conn.log(), declared, max);
            respondAndClose(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, CloseReason.PROTOCOL_ERROR);
            return;
        }

        Exchange e = new Exchange(req, declared > 0 || !codings.isEmpty());
        ex = e;
        if (e.hasBody) {
            startBodyTimer();
        }
        HttpRoute route;
        try {
            route = Objects.requireNonNull(router.route(host, target.path, target.originForm, h), "route");
        } catch (RuntimeException failure) {
            log.warn("{}the HTTP router failed", conn.log(), failure);
            respondAndClose(HttpResponseStatus.INTERNAL_SERVER_ERROR, CloseReason.PROXY_ERROR);
            return;
        }
        e.routeName = route.routeName();
        if (route instanceof HttpRoute.Redirect r) {
            log.debug("{}{} {} -> route '{}': redirect {} {}", conn.log(), req.method(), abbreviate(req.uri()),
                    r.routeName(), r.status(), r.location());
            respondLocal(HttpResponseStatus.valueOf(r.status()), r.location());
        } else if (route instanceof HttpRoute.Respond r) {
            log.debug("{}{} {} -> route '{}': respond {}", conn.log(), req.method(), abbreviate(req.uri()),
                    r.routeName(), r.status());
            HttpResponseStatus status = r.reason() == null ? HttpResponseStatus.valueOf(r.status())
                    : new HttpResponseStatus(r.status(), r.reason());
            respondLocal(status, null);
        } else {
            HttpRoute.Forward f = (HttpRoute.Forward) route;
            log.debug("{}{} {} -> route '{}': {}:{}", conn.log(), req.method(), abbreviate(req.uri()),
                    f.routeName(), f.host(), f.port());
            forward(e, f, target, hostValue);
        }
    }

    private void forward(Exchange e, HttpRoute.Forward f, Target target, String originalHost) {
        HttpRequest req = e.request;
        HttpHeaders h = req.headers();
        String upgrade = e.upgrade ? h.get(HttpHeaderNames.UPGRADE) : null;
        stripHopByHop(h);
        if (upgrade != null) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            h.set(HttpHeaderNames.UPGRADE, upgrade);
        }
        if (target.authority != null || target.normalised) {
            req.setUri(target.originForm);
        }
        if (target.authority != null) {
            h.set(HttpHeaderNames.HOST, target.authority);
        }
        setForwardedHeaders(h, originalHost);
        req.setProtocolVersion(HttpVersion.HTTP_1_1);

        String key = f.host().toLowerCase(Locale.ROOT) + ':' + f.port()
                + (f.backendTls() == null ? "" : "|tls@" + System.identityHashCode(f.backendTls()) + '|' + f.backendSni());
        if (leg != null && (!leg.key.equals(key) || (leg.ready && !leg.ch.isActive()))) {
            closeLeg();
        }
        ChannelFuture connecting = null;
        if (leg == null) {
            leg = connect(f, key);
            connecting = leg.connectFuture;
        } else {
            log.debug("{}reusing the backend connection to {}", conn.log(), leg.ch.remoteAddress());
        }
        e.leg = leg;
        sendToBackend(e, req);
        updateClientRead();
        if (connecting != null) {
            // Watched only now: a connect can fail before connect() returns (an unresolvable name),
            // and its failure must find this leg and this exchange in place to answer 502.
            BackendLeg l = leg;
            connecting.addListener((ChannelFuture done) -> onConnect(l, done));
        }
    }

    private void onRequestContent(HttpContent c) {
        Exchange e = ex;
        if (e == null) {
            c.release();
            return;
        }
        DecoderResult dr = c.decoderResult();
        if (dr.isFailure()) {
            c.release();
            log.debug("{}malformed request body: {}", conn.log(), dr.cause().toString());
            abortExchange(HttpResponseStatus.BAD_REQUEST, CloseReason.PROTOCOL_ERROR);
            return;
        }
        e.bodyBytes += c.content().readableBytes();
        long max = settings.maxRequestBodySize();
        if (max > 0 && e.bodyBytes > max) {
            c.release();
            log.debug("{}request body over the limit of {} bytes", conn.log(), max);
            abortExchange(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, CloseReason.PROTOCOL_ERROR);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        lastBodyNanos = now();
        if (e.local) {
            c.release();
        } else {
            sendToBackend(e, c);
        }
        if (last) {
            cancelBodyTimer();
            e.requestComplete = true;
            armTimer();
            maybeFinish();
        }
        updateClientRead();
    }

    /**
     * The request cannot go on: the backend leg is dropped (its unflushed writes with it, so a
     * request rejected within one read never reaches the backend), the client gets
     * {@code status} if no response has started, and the connection closes.
     */
    private void abortExchange(HttpResponseStatus status, CloseReason reason) {
        closeLeg();
        if (ex != null && ex.responseStarted) {
            closeClient(reason);
        } else {
            respondAndClose(status, reason);
        }
    }

    private void sendToBackend(Exchange e, HttpObject obj) {
        BackendLeg l = e.leg;
        if (l.ready) {
            l.ch.write(obj, l.ch.voidPromise());
            if (!draining && !l.ch.isWritable()) {
                client.config().setAutoRead(false);
            }
        } else {
            l.pending.add(obj);
        }
    }

    private void flushBackend() {
        if (leg != null && leg.ready) {
            leg.ch.flush();
        }
    }

    /** Reads the client only when the next client bytes have somewhere to go. */
    private void updateClientRead() {
        if (closing || handedOff) {
            return;
        }
        Exchange e = ex;
        // Never read while the client does not take what is written to it: every request may be
        // answered locally, and the answers must not pile up in memory.
        boolean want = queued.isEmpty() && client.isWritable() && (e == null || (!e.requestComplete
                && (e.local || (e.leg != null && e.leg.ready && e.leg.ch.isWritable()))));
        if (want && !client.config().isAutoRead()) {
            lastBodyNanos = now(); // time the proxy held the client back is not the client's delay
            rateSinceNanos = lastBodyNanos;
            rateSinceBytes = e == null ? 0 : e.bodyBytes;
        }
        client.config().setAutoRead(want);
        if (want && gate != null) {
            gate.resume();
        }
    }

    private long now() {
        return client.eventLoop().ticker().nanoTime();
    }

    private void startBodyTimer() {
        lastBodyNanos = now();
        rateSinceNanos = lastBodyNanos;
        rateSinceBytes = 0;
        long next = nextBodyCheck(0, 0);
        if (next != Long.MAX_VALUE) {
            scheduleBodyCheck(next);
        }
    }

    /**
     * Nanos until the body timer must look again, given the time since the last body byte and
     * since the rate window started; MAX_VALUE when neither limit is set.
     */
    private long nextBodyCheck(long idle, long windowAge) {
        long next = Long.MAX_VALUE;
        if (!settings.requestBodyTimeout().isZero()) {
            next = settings.requestBodyTimeout().toNanos() - idle;
        }
        if (settings.minRequestBodyRate() > 0) {
            long grace = settings.minRequestBodyRateGrace().toNanos();
            // before the grace: at its end; after it, every grace/5 (at least 100 ms), while the body lasts
            long rateCheck = windowAge < grace ? grace - windowAge : Math.max(grace / 5, 100_000_000L);
            next = Math.min(next, rateCheck);
        }
        return next;
    }

    private void scheduleBodyCheck(long delayNanos) {
        cancelBodyTimer();
        bodyTimer = client.eventLoop().schedule(this::checkBodyProgress, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void cancelBodyTimer() {
        if (bodyTimer != null) {
            bodyTimer.cancel(false);
            bodyTimer = null;
        }
    }

    /**
     * The body timer, re-armed lazily as {@code IdleStateHandler} does: traffic only stamps
     * {@link #lastBodyNanos}. While the proxy itself is not reading (backpressure) it never expires.
     */
    private void checkBodyProgress() {
        bodyTimer = null;
        Exchange e = ex;
        if (e == null || e.requestComplete || closing || handedOff) {
            return;
        }
        long now = now();
        if (!client.config().isAutoRead()) {
            lastBodyNanos = now; // the proxy is holding the client back: neither limit runs
            rateSinceNanos = now;
            rateSinceBytes = e.bodyBytes;
        }
        long idle = now - lastBodyNanos;
        Duration gap = settings.requestBodyTimeout();
        if (!gap.isZero() && idle >= gap.toNanos()) {
            log.debug("{}no request body bytes within {}", conn.log(), Checks.format(gap));
            abortExchange(HttpResponseStatus.REQUEST_TIMEOUT, CloseReason.REQUEST_TIMEOUT);
            return;
        }
        long windowAge = now - rateSinceNanos;
        long rate = settings.minRequestBodyRate();
        if (rate > 0 && windowAge >= settings.minRequestBodyRateGrace().toNanos()) {
            long got = e.bodyBytes - rateSinceBytes;
            if (got * 1e9 < (double) rate * windowAge) { // got / seconds < rate, in doubles: no overflow
                log.debug("{}request body too slow: {} bytes in {} (minimum {} B/s)", conn.log(), got,
                        Checks.format(Duration.ofNanos(windowAge)), rate);
                abortExchange(HttpResponseStatus.REQUEST_TIMEOUT, CloseReason.REQUEST_TIMEOUT);
                return;
            }
        }
        scheduleBodyCheck(nextBodyCheck(idle, windowAge));
    }

    private void maybeFinish() {
        Exchange e = ex;
        if (e == null || !e.responseComplete) {
            return;
        }
        if (!e.requestComplete) {
            if (e.local) {
                return; // the rest of the body is read and dropped, then the next request
            }
            log.debug("{}the backend answered before the request body ended: closing", conn.log());
            closeClient(CloseReason.BACKEND_CLOSED);
            return;
        }
        ex = null;
        cancelTimer(e);
        if (leg != null && e.leg == leg && (!e.backendKeepAlive || e.head)) {
            // After HEAD, a backend that wrongly sent a body would make its next response
            // unreadable: the connection is not reused.
            closeLeg();
        }
        if (e.closeAfter || !e.clientKeepAlive || clientInputClosed) {
            closeClient(e.closeAfter ? e.closeReason : CloseReason.CLIENT_CLOSED);
            return;
        }
        armRequestTimer();
        drain();
    }

    /** Handles pipelined requests that queued behind the finished exchange. */
    private void drain() {
        if (draining) {
            return;
        }
        draining = true;
        try {
            while (!closing && !queued.isEmpty() && (ex == null || !ex.requestComplete)
                    && (ex != null || client.isWritable())) {
                handle(queued.poll());
            }
        } finally {
            draining = false;
        }
        flushBackend();
        updateClientRead();
        abortIfIncomplete();
    }

    // ------------------------------------------------------------------ local responses

    private void respondLocal(HttpResponseStatus status, String location) {
        Exchange e = ex;
        boolean keep = e.clientKeepAlive && !e.hasBody && !clientInputClosed;
        e.local = true;
        e.responseStarted = true;
        e.responseComplete = true;
        client.writeAndFlush(localResponse(status, location, keep, e.http10));
        if (!keep) {
            closeClient(CloseReason.CLIENT_CLOSED);
        } else {
            maybeFinish();
        }
    }

    /** Answers an error; the connection stays open when the request is fully read and both want it. */
    private void respondError(HttpResponseStatus status, CloseReason reasonIfClosed) {
        Exchange e = ex;
        boolean keep = e != null && e.clientKeepAlive && e.requestComplete && !clientInputClosed;
        if (e != null) {
            e.local = true;
            e.responseStarted = true;
            e.responseComplete = true;
        }
        client.writeAndFlush(localResponse(status, null, keep, e != null && e.http10));
        if (!keep) {
            closeClient(reasonIfClosed);
        } else {
            maybeFinish();
        }
    }

    private void respondAndClose(HttpResponseStatus status, CloseReason reason) {
        if (ex != null) {
            ex.local = true;
            ex.responseStarted = true;
            ex.responseComplete = true;
        }
        if (client.isActive()) {
            client.write(localResponse(status, null, false, false));
        }
        closeClient(reason);
    }

    private static FullHttpResponse localResponse(HttpResponseStatus status, String location, boolean keep,
                                                  boolean http10) {
        byte[] body = (status.code() + " " + status.reasonPhrase() + "\n").getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        HttpHeaders h = r.headers();
        h.set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        h.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (location != null) {
            h.set(HttpHeaderNames.LOCATION, location);
        }
        if (!keep) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        return r;
    }

    /** Closes the client once everything written to it is flushed, and drops the backend leg. */
    private void closeClient(CloseReason reason) {
        if (closing) {
            return;
        }
        closing = true;
        cancelBodyTimer();
        if (reason != null) {
            conn.closeReason(reason);
        }
        log.debug("{}closing the client connection ({})", conn.log(), conn.closeReason());
        releaseQueued();
        cancelTimer();
        closeLeg();
        if (client.isActive()) {
            client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            client.close();
        }
    }

    private void releaseQueued() {
        HttpObject o;
        while ((o = queued.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }

    // ------------------------------------------------------------------ backend side

    private BackendLeg connect(HttpRoute.Forward f, String key) {
        BackendLeg l = new BackendLeg(key);
        int maxHeaders = Math.max(settings.maxHeaderSize(), 64 * 1024);
        int maxLine = Math.max(settings.maxInitialLineLength(), 8 * 1024);
        String sni = f.backendSni() != null ? f.backendSni() : f.host();
        ChannelFuture cf = connector.connect(client, Transport.targetAddress(f.host(), f.port()),
                conn.policy() == null ? null : conn.policy().tcpKeepAlive(), false,
                ByteCounter.backend(conn), f.backendTls(), sni, p -> { // raw bytes counted, for stats and timers
                    p.addLast(PipelineNames.BACKEND_HTTP_CODEC,
                            new HttpClientCodec(strictConfig(maxLine, maxHeaders), false, false));
                    p.addLast(PipelineNames.BACKEND_HTTP, l);
                });
        l.ch = cf.channel();
        l.connectFuture = cf;
        return l;
    }

    private void onConnect(BackendLeg l, ChannelFuture done) {
        if (!done.isSuccess()) {
            legFailed(l, done.cause());
            return;
        }
        SslHandler tls = l.ch.pipeline().get(SslHandler.class);
        if (tls == null) {
            legReady(l);
        } else {
            tls.handshakeFuture().addListener(hs -> {
                if (hs.isSuccess()) {
                    legReady(l);
                } else {
                    legFailed(l, hs.cause());
                }
            });
        }
    }

    private void legReady(BackendLeg l) {
        if (l != leg || closing) {
            l.releasePending();
            l.ch.close();
            return;
        }
        l.ready = true;
        log.debug("{}connected to backend {}", conn.log(), l.ch.remoteAddress());
        HttpObject o;
        while ((o = l.pending.poll()) != null) {
            l.ch.write(o, l.ch.voidPromise());
        }
        l.ch.flush();
        armTimer();
        updateClientRead();
    }

    private void legFailed(BackendLeg l, Throwable cause) {
        l.releasePending();
        l.ch.close();
        if (l != leg || closing) {
            return;
        }
        leg = null;
        CloseReason why = CloseReasons.connectFailure(cause);
        log.debug("{}backend connect failed: {} ({})", conn.log(), why, cause.toString());
        Exchange e = ex;
        if (e != null && e.leg == l && !e.responseStarted) {
            respondError(HttpResponseStatus.BAD_GATEWAY, why);
        }
    }

    private void closeLeg() {
        BackendLeg l = leg;
        if (l != null) {
            leg = null;
            l.releasePending();
            l.ch.close();
        }
    }

    private void armTimer() {
        Exchange e = ex;
        Duration timeout = settings.responseTimeout();
        if (e == null || e.timer != null || e.local || e.responseStarted || !e.requestComplete || e.leg == null
                || !e.leg.ready || timeout.isZero()) {
            return;
        }
        e.timer = client.eventLoop().schedule(() -> responseTimedOut(e), timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void cancelTimer() {
        if (ex != null) {
            cancelTimer(ex);
        }
    }

    private static void cancelTimer(Exchange e) {
        if (e.timer != null) {
            e.timer.cancel(false);
            e.timer = null;
        }
    }

    private void responseTimedOut(Exchange e) {
        e.timer = null;
        if (e != ex || e.responseStarted || closing) {
            return;
        }
        log.debug("{}no response headers from the backend within {} ms", conn.log(),
                settings.responseTimeout().toMillis());
        closeLeg();
        respondError(HttpResponseStatus.GATEWAY_TIMEOUT, CloseReason.BACKEND_UNREACHABLE);
    }

    private void backendRead(BackendLeg l, Object msg) {
        Exchange e = ex;
        if (l != leg || closing || e == null || e.leg != l || e.local) {
            ReferenceCountUtil.release(msg);
            if (l == leg && !closing) {
                log.debug("{}unexpected data from an idle backend connection: closing it", conn.log());
                closeLeg();
            }
            return;
        }
        if (msg instanceof HttpResponse res) {
            if (res.decoderResult().isFailure() || msg instanceof HttpContent) {
                ReferenceCountUtil.release(msg);
                backendProtocolError(res.decoderResult().isFailure() ? res.decoderResult().cause().toString()
                        : "unexpected full response");
                return;
            }
            onResponseHead(e, l, res);
        } else if (msg instanceof HttpContent c) {
            onResponseContent(e, l, c);
        } else {
            ReferenceCountUtil.release(msg);
            backendProtocolError("unexpected " + msg.getClass().getSimpleName());
        }
    }

    private void backendProtocolError(String why) {
        log.debug("{}backend broke HTTP: {}", conn.log(), why);
        closeLeg();
        if (ex != null && ex.responseStarted) {
            closeClient(CloseReason.BACKEND_PROTOCOL_ERROR);
        } else {
            respondError(HttpResponseStatus.BAD_GATEWAY, CloseReason.BACKEND_PROTOCOL_ERROR);
        }
    }

    private void onResponseHead(Exchange e, BackendLeg l, HttpResponse res) {
        int code = res.status().code();
        HttpHeaders h = res.headers();
        if (code < 100 || code > 599) {
            backendProtocolError("status " + code + " (expected: 100..599)");
            return;
        }
        if (code >= 100 && code < 200 && code != 101) {
            // Interim heads (100, 102, 103) do not answer the request: the response timer runs
            // on, and a backend that streams them to a client that reads nothing is paused. A
            // backend that sends more than a legitimate one could is broken (or hostile).
            if (++e.interimHeads > MAX_INTERIM_HEADS) {
                backendProtocolError("more than " + MAX_INTERIM_HEADS + " interim responses to one request");
                return;
            }
            e.informational = true;
            e.dropInformational = e.http10;
            if (!e.http10) {
                stripHopByHop(h);
                client.write(res);
                pauseIfClientFull(l);
            } else {
                ReferenceCountUtil.release(res);
            }
            return;
        }
        cancelTimer(e);
        if (code == 101) {
            if (!e.upgrade || e.responseStarted) {
                backendProtocolError("101 to a request that asked no WebSocket upgrade");
                return;
            }
            String accept = h.get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
            if (accept == null || !accept.trim().equals(e.expectedAccept)) {
                // Without it Netty's decoder would wait for a Hixie-76 body that never comes.
                backendProtocolError("101 without the Sec-WebSocket-Accept the request's key asks for");
                return;
            }
            String upgrade = h.get(HttpHeaderNames.UPGRADE);
            stripHopByHop(h);
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            if (upgrade != null) {
                h.set(HttpHeaderNames.UPGRADE, upgrade);
            }
            e.upgradePending = true;
            e.responseStarted = true;
            client.write(res);
            return;
        }
        List<String> codings = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!codings.isEmpty() && (h.contains(HttpHeaderNames.CONTENT_LENGTH) || !finalChunked(codings))) {
            // Ambiguous framing must not reach the client (RFC 9112 6.3): refused, not repaired.
            backendProtocolError("Transfer-Encoding " + codings + " with Content-Length or not ending in chunked");
            return;
        }
        e.responseStarted = true;
        e.backendKeepAlive = HttpUtil.isKeepAlive(res);
        stripHopByHop(h);
        boolean bodyless = e.head || code == 204 || code == 304;
        boolean chunked = HttpUtil.isTransferEncodingChunked(res);
        if (!bodyless && !chunked && !h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // The body ends when the backend closes: re-frame it for HTTP/1.1 clients.
            e.backendKeepAlive = false;
            if (e.http10) {
                closeAfterResponse(e, CloseReason.BACKEND_CLOSED);
            } else {
                HttpUtil.setTransferEncodingChunked(res, true);
            }
        }
        if (e.http10 && chunked) {
            h.remove(HttpHeaderNames.TRANSFER_ENCODING);
            if (!bodyless) {
                closeAfterResponse(e, CloseReason.BACKEND_CLOSED);
            }
        }
        if (!e.clientKeepAlive || e.closeAfter || clientInputClosed) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (e.http10) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        res.setProtocolVersion(HttpVersion.HTTP_1_1);
        client.write(res);
    }

    private static void closeAfterResponse(Exchange e, CloseReason reason) {
        e.closeAfter = true;
        e.closeReason = reason;
    }

    private void onResponseContent(Exchange e, BackendLeg l, HttpContent c) {
        if (c.decoderResult().isFailure()) {
            String why = c.decoderResult().cause().toString();
            c.release();
            backendProtocolError(why);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        if (e.upgradePending) {
            c.release();
            if (last) {
                upgrade(e, l);
            }
            return;
        }
        if (e.informational) {
            if (e.dropInformational) {
                c.release();
            } else {
                client.write(c);
                pauseIfClientFull(l);
            }
            if (last) {
                // Flushed with the rest of the backend's read (channelReadComplete), not one by one:
                // a TLS record per tiny head would pin a record-sized buffer for each.
                e.informational = false;
            }
            return;
        }
        if (!e.responseStarted) {
            c.release();
            backendProtocolError("content before a response");
            return;
        }
        client.write(c, client.voidPromise());
        pauseIfClientFull(l);
        if (last) {
            e.responseComplete = true;
            client.flush();
            maybeFinish();
        }
    }

    /** Stops reading the backend while the client does not take what is written to it. */
    private void pauseIfClientFull(BackendLeg l) {
        if (!client.isWritable()) {
            l.ch.config().setAutoRead(false);
        }
    }

    /**
     * The backend switched protocols: finish the 101 on the client, hand both channels over, then
     * remove the HTTP handlers so that bytes the decoders still hold reach the new handlers.
     */
    private void upgrade(Exchange e, BackendLeg l) {
        if (clientInputClosed) {
            log.debug("{}the client sent FIN before the 101 arrived: closing", conn.log());
            closeLeg();
            closeClient(CloseReason.CLIENT_CLOSED);
            return;
        }
        if (!queued.isEmpty()) {
            log.debug("{}the client sent data before the 101 arrived: closing", conn.log());
            closeLeg();
            closeClient(CloseReason.PROTOCOL_ERROR);
            return;
        }
        client.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        handedOff = true;
        ex = null;
        leg = null;
        cancelTimer(e);
        conn.markWebSocket();
        log.debug("{}upgraded to WebSocket (route '{}'): handing over", conn.log(), e.routeName);
        client.config().setAutoRead(true);
        l.ch.config().setAutoRead(true);
        try {
            handoff.upgraded(client, l.ch);
        } catch (RuntimeException failure) {
            log.warn("{}the upgrade hand-off failed", conn.log(), failure);
            conn.closeReason(CloseReason.PROXY_ERROR);
            l.ch.close();
            client.close();
            return;
        }
        ChannelPipeline cp = client.pipeline();
        cp.remove(this);
        HttpServerCodec serverCodec = cp.get(HttpServerCodec.class);
        if (serverCodec != null) {
            cp.remove(serverCodec); // the bytes it holds go on first...
        }
        if (gate != null) {
            cp.remove(gate); // ...then the ones the gate held back
        }
        ChannelPipeline bp = l.ch.pipeline();
        bp.remove(l);
        HttpClientCodec clientCodec = bp.get(HttpClientCodec.class);
        if (clientCodec != null) {
            bp.remove(clientCodec);
        }
    }

    private void backendInactive(BackendLeg l) {
        l.releasePending();
        if (l != leg) {
            return; // dropped on purpose, or superseded
        }
        leg = null;
        Exchange e = ex;
        if (closing || e == null || e.leg != l || e.local) {
            log.debug("{}idle backend connection closed", conn.log());
            return;
        }
        CloseReason why = l.failure != null && l.failure != CloseReason.PROXY_ERROR ? l.failure : CloseReason.BACKEND_CLOSED;
        if (!e.responseStarted) {
            log.debug("{}backend closed before responding ({})", conn.log(), why);
            respondError(HttpResponseStatus.BAD_GATEWAY, why);
        } else if (!e.responseComplete) {
            log.debug("{}backend closed mid-response ({})", conn.log(), why);
            closeClient(why);
        }
    }

    // ------------------------------------------------------------------ headers

    /**
     * Removes hop-by-hop headers: {@code Connection} and the headers it names (never the framing
     * headers or Host), {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE}, {@code Trailer}
     * and {@code Upgrade}. {@code Transfer-Encoding} stays: the codecs frame with it.
     */
    static void stripHopByHop(HttpHeaders h) {
        for (String value : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String name = token.trim().toLowerCase(Locale.ROOT);
                if (!name.isEmpty() && !PROTECTED.contains(name)) {
                    h.remove(name);
                }
            }
        }
        h.remove(HttpHeaderNames.CONNECTION);
        h.remove(HttpHeaderNames.KEEP_ALIVE);
        h.remove(HttpHeaderNames.PROXY_CONNECTION);
        h.remove(HttpHeaderNames.TE);
        h.remove(HttpHeaderNames.TRAILER);
        h.remove(HttpHeaderNames.UPGRADE);
    }

    private void setForwardedHeaders(HttpHeaders h, String originalHost) {
        String ip = clientIp();
        String proto = clientTls ? "https" : "http";
        if (settings.trustForwardedHeaders()) {
            String prior = String.join(", ", h.getAll(X_FORWARDED_FOR));
            h.set(X_FORWARDED_FOR, prior.isEmpty() ? ip : prior + ", " + ip);
            if (!h.contains(X_FORWARDED_PROTO)) {
                h.set(X_FORWARDED_PROTO, proto);
            }
            if (!h.contains(X_FORWARDED_HOST) && originalHost != null) {
                h.set(X_FORWARDED_HOST, originalHost);
            }
            return;
        }
        for (String name : new ArrayList<>(h.names())) {
            // X_Forwarded_For is the same header to a backend that folds '_' into '-' (many do).
            String folded = name.replace('_', '-');
            if (folded.regionMatches(true, 0, X_FORWARDED_PREFIX, 0, X_FORWARDED_PREFIX.length())
                    || folded.equalsIgnoreCase("forwarded")) {
                h.remove(name);
            }
        }
        h.set(X_FORWARDED_FOR, ip);
        h.set(X_FORWARDED_PROTO, proto);
        if (originalHost != null) {
            h.set(X_FORWARDED_HOST, originalHost);
        }
    }

    private String clientIp() {
        InetSocketAddress a = conn.clientAddress();
        if (a == null && client.remoteAddress() instanceof InetSocketAddress remote) {
            a = remote;
        }
        if (a == null) {
            return "unknown";
        }
        return a.getAddress() != null ? NetUtil.toAddressString(a.getAddress()) : a.getHostString();
    }

    /** Transfer codings a request may name (RFC 9110 8.4.1, 9112 7): anything else is answered 501. */
    private static final Set<String> KNOWN_CODINGS = Set.of("chunked", "gzip", "x-gzip", "deflate", "compress",
            "x-compress");

    private static boolean knownCodings(List<String> codings) {
        for (String v : codings) {
            for (String t : v.split(",")) {
                String coding = t.trim().toLowerCase(Locale.ROOT);
                int params = coding.indexOf(';');
                if (!KNOWN_CODINGS.contains(params < 0 ? coding : coding.substring(0, params).trim())) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean finalChunked(List<String> codings) {
        List<String> all = new ArrayList<>();
        for (String v : codings) {
            for (String t : v.split(",")) {
                all.add(t.trim().toLowerCase(Locale.ROOT));
            }
        }
        return !all.isEmpty() && all.get(all.size() - 1).equals("chunked") && all.indexOf("chunked") == all.size() - 1;
    }

    /**
     * The Host value without its port, lower case, IPv6 literals without brackets.
     *
     * @throws IllegalArgumentException if it is not a host[:port]
     */
    static String routingHost(String value) {
        String v = value.trim();
        String host;
        String port;
        if (v.startsWith("[")) {
            int close = v.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException(value);
            }
            host = v.substring(1, close);
            String rest = v.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw new IllegalArgumentException(value);
            }
            port = rest.isEmpty() ? "" : rest.substring(1);
            if (!NetUtil.isValidIpV6Address(host)) {
                throw new IllegalArgumentException(value);
            }
        } else {
            int colon = v.indexOf(':');
            host = colon < 0 ? v : v.substring(0, colon);
            port = colon < 0 ? "" : v.substring(colon + 1);
            if (host.isEmpty()) {
                throw new IllegalArgumentException(value);
            }
            for (int i = 0; i < host.length(); i++) {
                char c = host.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '.' || c == '-' || c == '_';
                if (!ok) {
                    throw new IllegalArgumentException(value);
                }
            }
        }
        for (int i = 0; i < port.length(); i++) {
            if (port.charAt(i) < '0' || port.charAt(i) > '9' || i >= 5) {
                throw new IllegalArgumentException(value);
            }
        }
        return host.toLowerCase(Locale.ROOT);
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    /** Whether a request asks for a WebSocket upgrade (Upgrade: websocket, Connection: upgrade). */
    private static boolean isWebSocketUpgrade(HttpRequest req) {
        HttpHeaders h = req.headers();
        return req.method().equals(HttpMethod.GET)
                && h.containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)
                && h.containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true);
    }

    /** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 4.2.2); null without a key. */
    static String webSocketAccept(String key) {
        if (key == null) {
            return null;
        }
        try {
            byte[] sha1 = java.security.MessageDigest.getInstance("SHA-1").digest(
                    (key.trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII));
            return java.util.Base64.getEncoder().encodeToString(sha1);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required of every Java platform", e);
        }
    }

    /** The request target: a path for the router and, for absolute-form, the authority. */
    private static final class Target {
        final String path;
        final String authority;
        final String originForm;
        /** Whether the path was rewritten by normalisation (so the request line must be too). */
        final boolean normalised;

        private Target(String path, String authority, String originForm) {
            this(path, authority, originForm, false);
        }

        private Target(String path, String authority, String originForm, boolean normalised) {
            this.path = path;
            this.authority = authority;
            this.originForm = originForm;
            this.normalised = normalised;
        }

        /** This target with its path replaced by {@code normalisedPath}, the query kept. */
        Target withPath(String normalisedPath) {
            if (normalisedPath.equals(path)) {
                return this;
            }
            return new Target(normalisedPath, authority, normalisedPath + originForm.substring(path.length()), true);
        }

        static Target parse(HttpMethod method, String uri) {
            if (uri.startsWith("/")) {
                return new Target(pathOf(uri), null, uri);
            }
            if (uri.equals("*")) {
                return method.equals(HttpMethod.OPTIONS) ? new Target("*", null, uri) : null;
            }
            String lower = uri.toLowerCase(Locale.ROOT);
            int schemeEnd = lower.startsWith("http://") ? 7 : lower.startsWith("https://") ? 8 : -1;
            if (schemeEnd < 0) {
                return null;
            }
            int end = schemeEnd;
            while (end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
                end++;
            }
            String authority = uri.substring(schemeEnd, end);
            if (authority.isEmpty() || authority.indexOf('@') >= 0) {
                return null;
            }
            String rest = uri.substring(end);
            String origin = rest.isEmpty() ? "/" : rest.startsWith("/") ? rest : "/" + rest;
            return new Target(pathOf(origin), authority, origin);
        }

        private static String pathOf(String origin) {
            int q = origin.indexOf('?');
            int f = origin.indexOf('#');
            int end = q < 0 ? f : f < 0 ? q : Math.min(q, f);
            return end < 0 ? origin : origin.substring(0, end);
        }
    }

    /** One request and its response. */
    private static final class Exchange {
        final HttpRequest request;
        final boolean clientKeepAlive;
        final boolean http10;
        final boolean head;
        final boolean upgrade;
        final boolean hasBody;
        String routeName;
        BackendLeg leg;
        long bodyBytes;
        boolean requestComplete;
        boolean responseStarted;
        boolean responseComplete;
        boolean local;
        boolean backendKeepAlive;
        boolean informational;
        boolean dropInformational;
        boolean upgradePending;
        boolean closeAfter;
        CloseReason closeReason;
        ScheduledFuture<?> timer;
        int interimHeads;
        /** The Sec-WebSocket-Accept a 101 to this request must carry; null if it asks no upgrade. */
        final String expectedAccept;

        Exchange(HttpRequest request, boolean hasBody) {
            this.request = request;
            this.clientKeepAlive = HttpUtil.isKeepAlive(request);
            this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
            this.head = request.method().equals(HttpMethod.HEAD);
            this.upgrade = isWebSocketUpgrade(request);
            this.hasBody = hasBody;
            this.expectedAccept = upgrade ? webSocketAccept(request.headers().get(HttpHeaderNames.SEC_WEBSOCKET_KEY)) : null;
        }
    }

    /** The handler at the end of a backend channel's pipeline; one per backend connection. */
    private final class BackendLeg extends ChannelInboundHandlerAdapter {
        final String key;
        final ArrayDeque<HttpObject> pending = new ArrayDeque<>();
        Channel ch;
        ChannelFuture connectFuture;
        boolean ready;
        /** Why the leg failed, if it did (a reset, a dead peer, a broken response). */
        CloseReason failure;

        BackendLeg(String key) {
            this.key = key;
        }

        void releasePending() {
            HttpObject o;
            while ((o = pending.poll()) != null) {
                ReferenceCountUtil.release(o);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            backendRead(this, msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (this == leg && client.isActive()) {
                client.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (this == leg && ctx.channel().isWritable()) {
                updateClientRead();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // An untrusted certificate, a reset, a dead backend: a reason and one line.
            failure = CloseReasons.of(cause, CloseReasons.Leg.BACKEND);
            if (CloseReasons.expected(failure)) {
                log.debug("{}backend error ({}): {}", conn.log(), failure, cause.toString());
            } else {
                log.warn("{}unexpected error on the HTTP backend leg", conn.log(), cause);
            }
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            backendInactive(this);
        }
    }
}
