package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.transport.BackendConnector;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/1.1 reverse proxy of one terminated client connection: the exchange state machine,
 * the responses the proxy makes itself, and the upgrade hand-off. Its parts, each socket-free
 * and tested on its own: {@link RequestValidator} (what a request head must be before it is
 * routed), {@link ForwardedHeaders} (hop-by-hop and {@code X-Forwarded-*}), {@link ResponseHeads}
 * (what a response head must be, and its rewriting), {@link BodyProgress} (the request-body
 * timeout and minimum rate) and {@link BackendLeg} (one backend connection).
 *
 * <h2>Pipeline</h2>
 * Client channel, in order: [{@code SslHandler} when TLS is terminated] &rarr;
 * [{@link RequestGate}] &rarr; {@link ServerCodec} ({@link #newServerCodec(HttpSettings)},
 * which pins Netty's strict parsing) &rarr; this handler, last. No {@code HttpObjectAggregator}:
 * bodies stream. Each backend channel gets [{@code SslHandler}] &rarr; {@link BackendCodec}
 * &rarr; its {@link BackendLeg}.
 *
 * <h2>Behaviour</h2>
 * One request at a time: while a response is in flight, a next request the client sends is
 * decoded (at most one {@link RequestGate} slice) and waits in a queue, with the client no longer
 * read, until the response is complete; further pipelined requests wait in the kernel. Each request is routed by the {@link HttpRouter}; a
 * {@link HttpRoute.Forward} is sent to a backend connected on the client's event loop, reused for
 * the next request to the same target while both sides keep it alive (never after a HEAD).
 * Malformed or ambiguous requests get 400 (431, 414, 405, 501, 413 as {@link RequestValidator}
 * says), are never forwarded, and close the connection with {@link CloseReason#PROTOCOL_ERROR}.
 * A backend that cannot be reached gets the client 502; one that sends no final response head
 * within {@link HttpSettings#responseTimeout()} after the request, 504 (interim 1xx heads, at
 * most {@value #MAX_INTERIM_HEADS} per request, do not stop that timer). A WebSocket upgrade
 * answered 101 is handed to the {@link UpgradeHandoff}.
 *
 * <p>Created per client connection; all state is confined to the client's event loop, which
 * the backend channels share. Does not count bytes in the connection record.
  *
 * <p>Over 600 lines on purpose, and one job: the exchange state machine of one client
 * connection (the exchange in flight, the queued pipelined requests, the client's read switch,
 * the backend leg in use, the closing flag) with its deadlines, the proxy's own responses, the
 * upgrade hand-off, and the moments a backend leg is taken from or given back to the
 * {@link BackendPool} (and the one retry of a reused leg that died before answering), which
 * depend on that same exchange state (was a body sent, did the response end cleanly). Every
 * rule that needs none of the connection's state has its own class ({@link RequestValidator},
 * {@link ForwardedHeaders}, {@link BackendLeg}, {@link ResponseHeads}, {@link BodyProgress}, and
 * for a response relayed as bytes {@link ResponseScan} and {@link RawRelay}), and
 * what one exchange alone decides is on {@link Exchange} (what goes to the backend, whether its
 * body is forwarded, whether it may be retried); splitting the rest would spread the connection's
 * fields over files that each change the others'.
 */
public final class HttpProxyHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HttpProxyHandler.class);

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

    private final HttpSettings settings;
    private final ManagedConnection conn;
    private final boolean clientTls;
    private final HttpRouter router;
    private final BackendConnector connector;
    private final UpgradeHandoff handoff;
    private final BodyProgress body;
    private final BackendLeg.Listener legEvents = new LegEvents();

    private Channel client;
    /** Holds client bytes back from the decoder while this handler does not read; null if absent. */
    private RequestGate gate;
    /** The client's codec, through which a response may go as bytes; null if absent (then never). */
    private ServerCodec codec;
    /** Client messages that arrived while a previous exchange was still in flight. */
    private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
    private Exchange ex;
    private BackendLeg leg;
    private boolean closing;
    /**
     * The request and response timeouts share one lazily re-armed check per connection, as
     * {@code IdleStateHandler} does: arming moves a deadline field; the check, when it runs,
     * acts on an expired deadline and schedules itself again for the earliest one still set.
     * A keep-alive connection costs one scheduled task per timeout period, not two scheduled and
     * cancelled tasks per request.
     */
    private ScheduledFuture<?> deadlineTimer;
    /** When {@link #deadlineTimer} runs, in event-loop ticker nanos. */
    private long deadlineTimerAt;
    /** No request head by then closes the connection; {@link Exchange#NO_DEADLINE} when not waiting for one. */
    private long requestDeadline = Exchange.NO_DEADLINE;
    private boolean handedOff;
    private boolean clientInputClosed;
    private boolean draining;
    /** The client's address as X-Forwarded-For spells it: formatted for the first forwarded request, then kept. */
    private String clientIp;
    /** Watches a request body's progress; see {@link HttpSettings#requestBodyTimeout()}. */
    private ScheduledFuture<?> bodyTimer;
    /** The idle backend connections of the client's event loop (null: pooling is off); looked up on first use. */
    private BackendPool pool;
    private boolean poolLookedUp;

    /**
     * @param settings  limits and header policy
     * @param conn      the connection record (routed, with its effective policy): close reasons and the log prefix
     * @param clientTls whether the client connection is TLS (sets {@code X-Forwarded-Proto})
     * @param router    routes each request
     * @param connector makes backend connections
     * @param handoff   takes over connections upgraded to WebSocket
     */
    public HttpProxyHandler(HttpSettings settings, ManagedConnection conn, boolean clientTls, HttpRouter router,
                            BackendConnector connector, UpgradeHandoff handoff) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.conn = Objects.requireNonNull(conn, "conn");
        this.clientTls = clientTls;
        this.router = Objects.requireNonNull(router, "router");
        this.connector = Objects.requireNonNull(connector, "connector");
        this.handoff = Objects.requireNonNull(handoff, "handoff");
        this.body = new BodyProgress(settings);
    }

    /**
     * The client-side codec to install just before this handler: a {@link ServerCodec} (Netty's
     * request decoder and response encoder) with the limits of {@code settings} and strict
     * parsing pinned (RFC 9112 transfer-encoding rules, no duplicate Content-Length, CRLF line
     * endings, header validation), whatever the JVM's system properties say.
     */
    public static ServerCodec newServerCodec(HttpSettings settings) {
        return new ServerCodec(strictConfig(settings.maxInitialLineLength(), settings.maxHeaderSize()),
                MAX_PIPELINE_DEPTH);
    }

    /** Netty's decoder settings with strict parsing pinned, for both sides. */
    static HttpDecoderConfig strictConfig(int maxLine, int maxHeaders) {
        return new HttpDecoderConfig().setMaxInitialLineLength(maxLine).setMaxHeaderSize(maxHeaders)
                .setMaxChunkSize(8192).setValidateHeaders(true).setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true).setUseRfc9112TransferEncoding(true);
    }

    // ------------------------------------------------------------------ client side

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        client = ctx.channel();
        gate = ctx.pipeline().get(RequestGate.class);
        codec = ctx.pipeline().get(ServerCodec.class);
        armRequestTimer();
    }

    /** Waits for the next request head: from the connection's start, and after each kept-alive exchange. */
    private void armRequestTimer() {
        Duration timeout = settings.requestTimeout();
        if (timeout.isZero() || closing || handedOff) {
            return;
        }
        requestDeadline = armDeadline(timeout);
    }

    private void cancelRequestTimer() {
        requestDeadline = Exchange.NO_DEADLINE;
    }

    /** The deadline {@code timeout} from now, with the shared check due no later than it. */
    private long armDeadline(Duration timeout) {
        long now = now();
        long deadline = now + timeout.toNanos();
        scheduleDeadlineCheck(now, deadline);
        return deadline;
    }

    private void scheduleDeadlineCheck(long now, long deadline) {
        if (deadlineTimer != null) {
            if (deadlineTimerAt - deadline <= 0) {
                return; // the check comes first, and moves itself on
            }
            deadlineTimer.cancel(false);
        }
        deadlineTimerAt = deadline;
        deadlineTimer = client.eventLoop().schedule(this::checkDeadlines, Math.max(0, deadline - now),
                TimeUnit.NANOSECONDS);
    }

    private void cancelDeadlineTimer() {
        requestDeadline = Exchange.NO_DEADLINE;
        if (deadlineTimer != null) {
            deadlineTimer.cancel(false);
            deadlineTimer = null;
        }
    }

    /** The shared check: acts on the deadline that expired, then waits for the earliest one left. */
    private void checkDeadlines() {
        deadlineTimer = null;
        if (closing || handedOff) {
            return;
        }
        long now = now();
        if (requestDeadline != Exchange.NO_DEADLINE && now - requestDeadline >= 0) {
            requestDeadline = Exchange.NO_DEADLINE;
            if (ex == null) {
                log.debug("{}no request head within {}", conn.log(), settings.requestTimeout());
                closeClient(CloseReason.REQUEST_TIMEOUT);
                return;
            }
        }
        Exchange e = ex;
        if (e != null && e.responseDeadline != Exchange.NO_DEADLINE && now - e.responseDeadline >= 0) {
            e.responseDeadline = Exchange.NO_DEADLINE;
            responseTimedOut(e);
            if (closing || handedOff) {
                return;
            }
        }
        long next = requestDeadline;
        e = ex;
        if (e != null && e.responseDeadline != Exchange.NO_DEADLINE
                && (next == Exchange.NO_DEADLINE || e.responseDeadline - next < 0)) {
            next = e.responseDeadline;
        }
        if (next != Exchange.NO_DEADLINE) {
            scheduleDeadlineCheck(now(), next);
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
        if (leg != null) {
            leg.flush();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (client.isWritable() && !closing && !handedOff) {
            if (leg != null) {
                leg.resume();
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
        if (!handedOff) {
            report(ex);
        }
        releaseQueued();
        cancelTimer();
        cancelDeadlineTimer();
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
                refuse(RequestValidator.malformed(req.decoderResult().isFailure() ? req.decoderResult().cause()
                        : new IllegalStateException("unexpected full request")), req);
                return;
            }
            onRequestHead(req);
        } else if (msg instanceof HttpContent c) {
            onRequestContent(c);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void refuse(RequestValidator.Refusal r, HttpRequest req) {
        log.debug("{}rejected a request ({}): {}", conn.log(), r.status().code(), r.why());
        if (ex == null && req != null) {
            // No exchange was opened for it: reported as one the proxy answered, without a route.
            Exchange e = new Exchange(req, false);
            e.startNanos = System.nanoTime();
            ex = e;
        }
        respondAndClose(r.status(), r.reason());
    }

    private void onRequestHead(HttpRequest req) {
        RequestValidator.Verdict verdict = RequestValidator.validate(req, settings);
        if (verdict instanceof RequestValidator.Refusal r) {
            refuse(r, req);
            return;
        }
        RequestValidator.Valid v = (RequestValidator.Valid) verdict;
        Exchange e = new Exchange(req, v.hasBody());
        e.startNanos = System.nanoTime();
        ex = e;
        if (e.hasBody) {
            startBodyTimer();
        }
        HttpRoute route;
        try {
            route = Objects.requireNonNull(router.route(v.routingHost(), v.path(), v.originForm(), req.headers()),
                    "route");
        } catch (RuntimeException failure) {
            log.warn("{}the HTTP router failed", conn.log(), failure);
            respondAndClose(HttpResponseStatus.INTERNAL_SERVER_ERROR, CloseReason.PROXY_ERROR);
            return;
        }
        e.routeName = route.routeName();
        // Guarded: the arguments (an abbreviated URI, a boxed port, the varargs array) cost an
        // allocation per request even with debug off.
        boolean debug = log.isDebugEnabled();
        String uri = debug ? RequestValidator.abbreviate(req.uri()) : null;
        if (route instanceof HttpRoute.Redirect r) {
            if (debug) {
                log.debug("{}{} {} -> route '{}': redirect {} {}", conn.log(), req.method(), uri, r.routeName(),
                        r.status(), r.location());
            }
            respondLocal(HttpResponseStatus.valueOf(r.status()), r.location(), 0);
        } else if (route instanceof HttpRoute.Respond r) {
            if (debug) {
                log.debug("{}{} {} -> route '{}': respond {}", conn.log(), req.method(), uri, r.routeName(), r.status());
            }
            respondLocal(r.reason() == null ? HttpResponseStatus.valueOf(r.status())
                    : new HttpResponseStatus(r.status(), r.reason()), null, r.retryAfterSeconds());
        } else {
            HttpRoute.Forward f = (HttpRoute.Forward) route;
            if (debug) {
                log.debug("{}{} {} -> route '{}': {}:{}", conn.log(), req.method(), uri, f.routeName(), f.host(),
                        f.port());
            }
            forward(e, f, v);
        }
    }

    private void forward(Exchange e, HttpRoute.Forward f, RequestValidator.Valid v) {
        if (clientIp == null) {
            InetSocketAddress from = conn.clientAddress() != null ? conn.clientAddress()
                    : client.remoteAddress() instanceof InetSocketAddress remote ? remote : null;
            clientIp = ForwardedHeaders.clientIp(from);
        }
        ForwardedHeaders.prepareRequest(e.request, v, e.upgrade, settings.trustForwardedHeaders(), clientIp,
                clientTls);
        if (leg != null && !leg.reusableFor(f)) {
            closeLeg();
        }
        BackendLeg connecting = null;
        if (leg == null) {
            BackendPool p = pool();
            BackendPool.Key key = p == null ? null : BackendPool.Key.of(f, conn.policy().tcpKeepAlive());
            BackendLeg pooled = key == null ? null : p.acquire(key);
            if (pooled != null) {
                pooled.adopt(legEvents, conn, client);
                leg = pooled;
                if (log.isDebugEnabled()) { // the prefix is a new String per call
                    log.debug("{}reusing a pooled backend connection to {}", conn.log(), pooled.channel().remoteAddress());
                }
            } else {
                leg = connecting = BackendLeg.connect(connector, client, conn, settings, f, legEvents, key);
            }
        } else if (log.isDebugEnabled()) {
            log.debug("{}reusing the backend connection to {}", conn.log(), leg.channel().remoteAddress());
        }
        e.leg = leg;
        e.reusedLeg = leg.beginExchange() > 0;
        if (ForwardedHeaders.bindsConnection(e.request.headers(), HttpHeaderNames.AUTHORIZATION)) {
            leg.keepPrivate();
        }
        sendToBackend(e, e.outgoing());
        updateClientRead();
        if (connecting != null) {
            // Watched only now: a connect can fail before connect() returns (an unresolvable name),
            // and its failure must find this leg and this exchange in place to answer 502.
            connecting.watchConnect();
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
        body.moved(now());
        if (!e.forwardsContent()) {
            c.release(); // dropped, or (a bodyless request's empty end) already sent with the head
        } else if (last && !((LastHttpContent) c).trailingHeaders().isEmpty()) {
            // Request trailers are not forwarded: nothing the proxy checks in headers (forwarded
            // headers, a client-certificate subject header) may arrive behind its back in them.
            sendToBackend(e, new DefaultLastHttpContent(c.content()));
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
        if (!e.leg.write(obj) && !draining) {
            client.config().setAutoRead(false);
        }
    }

    /** Reads the client only when the next client bytes have somewhere to go. */
    private void updateClientRead() {
        if (closing || handedOff) {
            return;
        }
        Exchange e = ex;
        // Never read while the client does not take what is written to it: every request may be
        // answered locally, and the answers must not pile up in memory. While a kept-alive
        // response is awaited, reading stays on (switching it off and on again costs two epoll
        // calls per request): a next request that arrives meanwhile is queued by channelRead,
        // which stops reading until its turn, so at most one gate slice is decoded ahead. Not
        // after an upgrade request: what follows it belongs to the protocol it switches to.
        boolean want = queued.isEmpty() && client.isWritable() && (e == null || (e.requestComplete
                ? e.clientKeepAlive && !e.upgrade
                : e.local || (e.leg != null && e.leg.acceptsWrites())));
        if (want != client.config().isAutoRead()) {
            if (want) {
                body.restart(now(), e == null ? 0 : e.bodyBytes); // time the proxy held the client back is not the client's
            }
            client.config().setAutoRead(want);
        }
        if (want && gate != null) {
            gate.resume();
        }
    }

    private long now() {
        return client.eventLoop().ticker().nanoTime();
    }

    private void startBodyTimer() {
        long next = body.start(now());
        if (next != Long.MAX_VALUE) {
            scheduleBodyCheck(next);
        }
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

    /** The body timer, re-armed lazily; while the proxy itself is not reading (backpressure) it never expires. */
    private void checkBodyProgress() {
        bodyTimer = null;
        Exchange e = ex;
        if (e == null || e.requestComplete || closing || handedOff) {
            return;
        }
        long now = now();
        if (!client.config().isAutoRead()) {
            body.restart(now, e.bodyBytes); // the proxy is holding the client back: neither limit runs
        }
        long next = body.check(now, e.bodyBytes);
        if (next == BodyProgress.EXPIRED) {
            log.debug("{}{}", conn.log(), body.failure());
            abortExchange(HttpResponseStatus.REQUEST_TIMEOUT, CloseReason.REQUEST_TIMEOUT);
            return;
        }
        scheduleBodyCheck(next);
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
        e.cancelTimer();
        if (leg != null && e.leg == leg) {
            if (!e.backendKeepAlive || e.head) {
                // After HEAD, a backend that wrongly sent a body would make its next response
                // unreadable: the connection is not reused.
                closeLeg();
            } else {
                leg.exchangeDone(e.upgrade);
            }
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
        if (leg != null) {
            leg.flush();
        }
        updateClientRead();
        abortIfIncomplete();
    }

    // ------------------------------------------------------------------ local responses

    private void respondLocal(HttpResponseStatus status, String location, long retryAfterSeconds) {
        Exchange e = ex;
        boolean keep = e.clientKeepAlive && !e.hasBody && !clientInputClosed;
        e.answeredLocally();
        var response = ResponseHeads.local(status, location, keep, e.http10);
        if (retryAfterSeconds > 0) {
            response.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
        }
        answered(e, status, response.content().readableBytes());
        client.writeAndFlush(response);
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
        var response = ResponseHeads.local(status, null, keep, e != null && e.http10);
        if (e != null) {
            e.answeredLocally();
            answered(e, status, response.content().readableBytes());
        }
        client.writeAndFlush(response);
        if (!keep) {
            closeClient(reasonIfClosed);
        } else {
            maybeFinish();
        }
    }

    private void respondAndClose(HttpResponseStatus status, CloseReason reason) {
        var response = client.isActive() ? ResponseHeads.local(status, null, false, false) : null;
        if (ex != null) {
            ex.answeredLocally();
            if (response != null && !ex.reported) {
                answered(ex, status, response.content().readableBytes());
            }
        }
        if (response != null) {
            client.write(response);
        }
        closeClient(reason);
    }

    // ------------------------------------------------------------------ telemetry

    /** The proxy answered {@code e} itself with {@code status} and a body of {@code bodyBytes}: reported now. */
    private void answered(Exchange e, HttpResponseStatus status, long bodyBytes) {
        if (e.status == 0) {
            e.status = status.code();
            e.headNanos = System.nanoTime();
            e.responseBytes = bodyBytes;
        }
        report(e);
    }

    /** The HTTP counters last used, kept while requests stay on one route (the common case). */
    private dev.smartproxy.internal.metrics.HttpCounters httpCounters;

    /**
     * Reports {@code e} once: counted by its route and status class (an exchange that sent no
     * response head is not counted), and, if anyone listens, an {@code onHttpExchange} event.
     */
    private void report(Exchange e) {
        if (e == null || e.reported) {
            return;
        }
        e.reported = true;
        long nanos = System.nanoTime() - e.startNanos;
        String route = routeOf(e);
        var telemetry = conn.telemetry();
        if (e.status != 0) {
            String key = route == null ? dev.smartproxy.metrics.HttpMetrics.NO_ROUTE : route;
            var h = httpCounters;
            if (h == null || !h.route().equals(key)) {
                h = httpCounters = telemetry.metrics().http(key);
            }
            h.record(e.status, nanos);
        }
        if (!telemetry.wantsHttpExchanges()) {
            return;
        }
        HttpRequest req = e.request;
        String host = req.headers().get(HttpHeaderNames.HOST);
        InetSocketAddress backend = e.leg != null && e.leg.channel() != null
                && e.leg.channel().remoteAddress() instanceof InetSocketAddress a ? a : null;
        telemetry.httpExchange(conn, new dev.smartproxy.event.HttpExchange(conn.id(), conn.clientAddress(), route,
                backend, req.method().name(), host == null ? "" : host, req.uri(), req.protocolVersion().text(),
                e.status, e.bodyBytes, e.responseBytes, java.time.Instant.now().minusNanos(nanos),
                e.headNanos == 0 ? null : Duration.ofNanos(Math.max(0, e.headNanos - e.startNanos)),
                Duration.ofNanos(Math.max(0, nanos)), e.local));
    }

    /** The route an exchange counts under: null when the proxy answered without one. */
    private static String routeOf(Exchange e) {
        String name = e.routeName;
        return name == null || name.equals("(no route)") || name.equals("(misdirected)") ? null : name;
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
        report(ex); // an exchange still open ends here: status as sent, 0 if none
        releaseQueued();
        cancelTimer();
        cancelDeadlineTimer();
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

    /** Drops the backend leg: into the event loop's pool if it ended its last exchange cleanly, else closed. */
    private void closeLeg() {
        BackendLeg l = leg;
        if (l != null) {
            leg = null;
            BackendPool p = l.idleKey() == null ? null : pool();
            if (p == null || !p.release(l)) {
                l.close();
            }
        }
    }

    private BackendPool pool() {
        if (!poolLookedUp) {
            poolLookedUp = true;
            pool = BackendPool.of(connector, client.eventLoop(), settings);
        }
        return pool;
    }

    /**
     * A reused backend connection closed before any response to {@code e} (the backend closed it
     * as idle just as the request went out): an idempotent request without a body is sent once
     * more, on a new connection. Anything else cannot be known unsent, and gets the 502.
     */
    private boolean retryOnNewLeg(Exchange e, BackendLeg stale) {
        if (!e.retryableOnNewLeg() || !client.isActive()) {
            return false;
        }
        e.retried = true;
        e.cancelTimer();
        log.debug("{}reused backend connection closed before responding ({}): retrying on a new one", conn.log(),
                stale.closeReason());
        BackendLeg fresh = BackendLeg.connect(connector, client, conn, settings, stale.target(), legEvents,
                stale.poolKey());
        leg = fresh;
        e.leg = fresh;
        fresh.beginExchange();
        fresh.write(e.outgoing()); // bodyless, as checked above: the whole request again
        updateClientRead();
        fresh.watchConnect();
        return true;
    }

    /** Starts the response timer once the request is complete and the leg ready. */
    private void armTimer() {
        Exchange e = ex;
        Duration timeout = settings.responseTimeout();
        if (e == null || e.responseDeadline != Exchange.NO_DEADLINE || e.local || e.responseStarted || !e.requestComplete || e.leg == null
                || !e.leg.isReady() || timeout.isZero()) {
            return;
        }
        e.responseDeadline = armDeadline(timeout);
    }

    private void cancelTimer() {
        if (ex != null) {
            ex.cancelTimer();
        }
    }

    private void responseTimedOut(Exchange e) {
        if (e != ex || e.responseStarted || closing) {
            return;
        }
        log.debug("{}no response headers from the backend within {} ms", conn.log(),
                settings.responseTimeout().toMillis());
        closeLeg();
        respondError(HttpResponseStatus.GATEWAY_TIMEOUT, CloseReason.BACKEND_UNREACHABLE);
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

    /**
     * The backend switched protocols: finish the 101 on the client, hand both channels over, then
     * remove the HTTP handlers so that bytes the decoders still hold reach the new handlers.
     */
    private void upgrade(Exchange e, BackendLeg l) {
        if (clientInputClosed || !queued.isEmpty()) {
            log.debug("{}the client sent {} before the 101 arrived: closing", conn.log(),
                    clientInputClosed ? "FIN" : "data");
            closeLeg();
            closeClient(clientInputClosed ? CloseReason.CLIENT_CLOSED : CloseReason.PROTOCOL_ERROR);
            return;
        }
        client.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        handedOff = true;
        ex = null;
        leg = null;
        e.cancelTimer();
        cancelDeadlineTimer();
        conn.markWebSocket();
        report(e);
        conn.telemetry().webSocketUpgraded(conn, e.request.uri());
        log.debug("{}upgraded to WebSocket (route '{}'): handing over", conn.log(), e.routeName);
        Channel backend = l.channel();
        client.config().setAutoRead(true);
        backend.config().setAutoRead(true);
        try {
            handoff.upgraded(client, backend);
        } catch (RuntimeException failure) {
            log.warn("{}the upgrade hand-off failed", conn.log(), failure);
            conn.closeReason(CloseReason.PROXY_ERROR);
            backend.close();
            client.close();
            return;
        }
        ChannelPipeline cp = client.pipeline();
        cp.remove(this);
        ServerCodec serverCodec = cp.get(ServerCodec.class);
        if (serverCodec != null) {
            cp.remove(serverCodec); // the bytes it holds go on first...
        }
        if (gate != null) {
            cp.remove(gate); // ...then the ones the gate held back
        }
        ChannelPipeline bp = backend.pipeline();
        bp.remove(l);
        BackendCodec clientCodec = bp.get(BackendCodec.class);
        if (clientCodec != null) {
            bp.remove(clientCodec);
        }
    }

    /** The exchange's side of its {@link BackendLeg}s; a leg that is no longer {@link #leg} is stale. */
    private final class LegEvents implements BackendLeg.Listener {
        @Override
        public void legConnected(BackendLeg l) {
            if (l != leg || closing) {
                l.close();
                return;
            }
            l.start();
            armTimer();
            updateClientRead();
        }

        @Override
        public void legFailed(BackendLeg l, CloseReason why, Throwable cause) {
            if (l != leg || closing) {
                return;
            }
            leg = null;
            log.debug("{}backend connect failed: {} ({})", conn.log(), why, cause.toString());
            Exchange e = ex;
            if (e != null && e.leg == l && !e.responseStarted) {
                respondError(HttpResponseStatus.BAD_GATEWAY, why);
            }
        }

        @Override
        public Exchange exchangeFor(BackendLeg l) {
            Exchange e = ex;
            return l != leg || closing || e == null || e.leg != l || e.local ? null : e;
        }

        @Override
        public boolean clientClosing() {
            return clientInputClosed;
        }

        @Override
        public ServerCodec clientCodec() {
            return codec;
        }

        @Override
        public void legRead(BackendLeg l, Object msg) {
            Exchange e = ex;
            if (l != leg || closing || e == null || e.leg != l || e.local) {
                ReferenceCountUtil.release(msg);
                if (l == leg && !closing) {
                    log.debug("{}unexpected data from an idle backend connection: closing it", conn.log());
                    l.spoil();
                    closeLeg();
                }
                return;
            }
            l.relay(e, msg, clientInputClosed);
        }

        @Override
        public void legBroken(BackendLeg l, String why) {
            backendProtocolError(why);
        }

        @Override
        public void legResponseComplete(BackendLeg l) {
            report(ex);
            maybeFinish();
        }

        @Override
        public void legSwitched(BackendLeg l, Exchange e) {
            upgrade(e, l);
        }

        @Override
        public void legReadComplete(BackendLeg l) {
            if (l == leg && client.isActive()) {
                l.flushClient(); // once per backend read, and only if the read relayed something
            }
        }

        @Override
        public void legWritable(BackendLeg l) {
            if (l == leg) {
                updateClientRead();
            }
        }

        @Override
        public void legInactive(BackendLeg l) {
            if (l != leg) {
                return; // dropped on purpose, or superseded
            }
            leg = null;
            Exchange e = ex;
            if (closing || e == null || e.leg != l || e.local) {
                log.debug("{}idle backend connection closed", conn.log());
                return;
            }
            CloseReason why = l.closeReason();
            if (!e.responseStarted && retryOnNewLeg(e, l)) {
                return;
            }
            if (!e.responseStarted) {
                log.debug("{}backend closed before responding ({})", conn.log(), why);
                respondError(HttpResponseStatus.BAD_GATEWAY, why);
            } else if (!e.responseComplete) {
                log.debug("{}backend closed mid-response ({})", conn.log(), why);
                closeClient(why);
            }
        }
    }
}
