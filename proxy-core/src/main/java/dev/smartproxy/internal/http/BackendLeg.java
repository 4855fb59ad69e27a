package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.internal.transport.ProxyHeader;
import dev.smartproxy.internal.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Objects;

/**
 * One backend connection of an HTTP exchange, and the handler at the end of its pipeline
 * ([{@code SslHandler}] &rarr; {@link BackendCodec} &rarr; this). It holds what the client sent
 * before the connection (and its TLS handshake) completed, writes the rest straight through,
 * classifies its failures with {@link CloseReasons}, and reports everything else to its
 * {@link Listener}, the exchange state machine, which decides. Reused for the next request whose
 * route names the same target ({@link #reusableFor}); once its client connection is done with
 * it, a leg that ended its last exchange cleanly ({@link #idleKey}) may wait in its event loop's
 * {@link BackendPool} for another client connection on that loop ({@link #adopt}), which then
 * owns it: its bytes and events count for the connection using it.
 *
 * <p>Confined to the client's event loop, which the backend channel shares.
 * <pre>{@code
 * BackendLeg leg = BackendLeg.connect(connector, client, conn, settings, forward, listener);
 * leg.write(request);           // queued until ready
 * leg.watchConnect();           // then listener.legConnected(leg) or legFailed(leg, reason, cause)
 * }</pre>
 */
final class BackendLeg extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(BackendLeg.class);

    /** What the leg reports to the exchange that owns it; all calls on the event loop. */
    interface Listener {
        /** The connection (and its TLS handshake, if any) completed; call {@link #start} to use it. */
        void legConnected(BackendLeg leg);

        /** The connection or its TLS handshake failed; the leg is already closed. */
        void legFailed(BackendLeg leg, CloseReason why, Throwable cause);

        /**
         * A decoded response object; the listener releases it, or gives it to {@link #relay} if
         * it belongs to the exchange in flight.
         */
        void legRead(BackendLeg leg, Object msg);

        /** The backend broke HTTP ({@code why}): the exchange answers 502 or closes. */
        void legBroken(BackendLeg leg, String why);

        /** The last content of the response went to the client (and was flushed). */
        void legResponseComplete(BackendLeg leg);

        /** A 101 and its (empty) end went by: the connection is to be handed over. */
        void legSwitched(BackendLeg leg, Exchange e);

        /** The end of one read from the backend. */
        void legReadComplete(BackendLeg leg);

        /** The backend channel became writable again. */
        void legWritable(BackendLeg leg);

        /** The backend channel closed; {@link #closeReason} says why. */
        void legInactive(BackendLeg leg);

        /** The exchange the leg's next response belongs to ({@link #legRead} would relay it), or null. */
        default Exchange exchangeFor(BackendLeg leg) {
            return null;
        }

        /** Whether the client connection closes after the response in flight anyway. */
        default boolean clientClosing() {
            return false;
        }

        /** The client's codec, for a response relayed as bytes ({@link RawRelay}); null: never. */
        default ServerCodec clientCodec() {
            return null;
        }
    }

    /** The exchange state machine of the client connection using the leg; its pool while parked. */
    private Listener listener;
    /** The client connection using the leg; null while parked. */
    private ManagedConnection conn;
    private Channel client;
    private final HttpRoute.Forward target;
    /** The pool key the leg was made for; null: never shared (a PROXY header, or no pool). */
    private BackendPool.Key poolKey;
    /** Between exchanges, the last one ended cleanly: the connection may serve another client. */
    private boolean clean;
    /** Never to be pooled (it carried an upgrade request, or sent something unasked). */
    private boolean spoiled;
    /** Exchanges this connection served to their end. */
    private int served;
    /** When the leg was parked ({@link io.netty.util.concurrent.EventExecutor#ticker()} nanos). */
    private long idleSince;
    private final ArrayDeque<HttpObject> pending = new ArrayDeque<>();
    private Channel ch;
    private ChannelFuture connectFuture;
    private boolean ready;
    /** Whether something was written to the backend, or to the client, since that side's last flush. */
    private boolean backendUnflushed;
    private boolean clientUnflushed;
    /** A void promise that drops failures, for heads; made on first use. */
    private VoidChannelPromise quietPromise;
    /** Why the leg failed, if it did (a reset, a dead peer, a broken response). */
    private CloseReason failure;

    /** A leg to {@code target} for the exchange {@code listener}; {@link #connect} makes and attaches it. */
    BackendLeg(Listener listener, ManagedConnection conn, Channel client, HttpRoute.Forward target) {
        this.listener = listener;
        this.conn = conn;
        this.client = client;
        this.target = target;
    }

    /**
     * Starts a connection to {@code target} on {@code client}'s event loop, with TCP keepalive
     * from the connection's effective policy and the codec limits of {@code settings} (at least
     * 8 KiB of status line and 64 KiB of headers, whatever the client side allows).
     */
    static BackendLeg connect(BackendConnector connector, Channel client, ManagedConnection conn,
                              HttpSettings settings, HttpRoute.Forward target, Listener listener) {
        return connect(connector, client, conn, settings, target, listener, null);
    }

    /** As {@link #connect(BackendConnector, Channel, ManagedConnection, HttpSettings, HttpRoute.Forward, Listener)}, for pooling under {@code poolKey} (null: never). */
    static BackendLeg connect(BackendConnector connector, Channel client, ManagedConnection conn,
                              HttpSettings settings, HttpRoute.Forward target, Listener listener,
                              BackendPool.Key poolKey) {
        BackendLeg l = new BackendLeg(listener, conn, client, target);
        l.poolAs(poolKey);
        int maxHeaders = Math.max(settings.maxHeaderSize(), 64 * 1024);
        int maxLine = Math.max(settings.maxInitialLineLength(), 8 * 1024);
        String sni = target.backendSni() != null ? target.backendSni() : target.host();
        // One header per backend connection, for the client connection that owns the leg: such legs are never shared.
        ProxyHeader header = target.proxyProtocol() == null ? null : ProxyHeader.of(target.proxyProtocol(), conn, client);
        ChannelFuture cf = connector.connect(conn, client, Transport.targetAddress(target.host(), target.port()),
                conn.policy().tcpKeepAlive(), false, new RawBytes(l), target.backendTls(), sni, header, p -> {
                    RawRelay raw = new RawRelay(l, maxLine, maxHeaders);
                    BackendCodec codec = new BackendCodec(HttpProxyHandler.strictConfig(maxLine, maxHeaders), raw);
                    raw.codec(codec);
                    p.addLast(PipelineNames.BACKEND_HTTP_CODEC, codec);
                    p.addLast(PipelineNames.BACKEND_HTTP, l);
                });
        l.attach(cf);
        return l;
    }

    /** Binds the leg to the backend channel of {@code connecting}, whose pipeline ends with this leg. */
    void attach(ChannelFuture connecting) {
        ch = connecting.channel();
        connectFuture = connecting;
    }

    /**
     * Reports the end of the connect (and TLS handshake) to the listener. Called once the leg is
     * in place: a connect can fail before {@link #connect} returns (an unresolvable name).
     */
    void watchConnect() {
        connectFuture.addListener((ChannelFuture done) -> {
            if (!done.isSuccess()) {
                failed(done.cause());
                return;
            }
            SslHandler tls = ch.pipeline().get(SslHandler.class);
            if (tls == null) {
                listener.legConnected(this);
            } else {
                long start = System.nanoTime();
                tls.handshakeFuture().addListener(hs -> {
                    conn.telemetry().tlsHandshake(conn, false, hs.cause(), tls, System.nanoTime() - start);
                    if (hs.isSuccess()) {
                        listener.legConnected(this);
                    } else {
                        failed(hs.cause());
                    }
                });
            }
        });
    }

    private void failed(Throwable cause) {
        close();
        listener.legFailed(this, CloseReasons.connectFailure(cause), cause);
    }

    /** Whether a request routed to {@code f} may go over this leg: the same target, and not closed. */
    boolean reusableFor(HttpRoute.Forward f) {
        return target.port() == f.port() && target.host().equalsIgnoreCase(f.host())
                && target.backendTls() == f.backendTls() && Objects.equals(target.backendSni(), f.backendSni())
                && target.proxyProtocol() == f.proxyProtocol()
                && !(ready && !ch.isActive());
    }

    // ------------------------------------------------------------------ sharing between client connections

    /** Lets the leg be pooled under {@code key} (null: never); a leg that sends a PROXY header never is. */
    void poolAs(BackendPool.Key key) {
        poolKey = target.proxyProtocol() == null ? key : null;
    }

    /** The key the leg was made for; null if it is never shared. */
    BackendPool.Key poolKey() {
        return poolKey;
    }

    /** An exchange starts on the leg: it is not clean until it ends; returns how many exchanges it served before. */
    int beginExchange() {
        clean = false;
        return served;
    }

    /**
     * The exchange on the leg ended cleanly (response read to its end, the backend keeps the
     * connection); {@code upgradeAsked}: it asked for an upgrade, so the connection is never
     * shared with another client.
     */
    void exchangeDone(boolean upgradeAsked) {
        served++;
        clean = true;
        spoiled |= upgradeAsked;
    }

    /** The connection must not serve another client connection, and is not clean now (it sent something unasked). */
    void spoil() {
        spoiled = true;
        clean = false;
    }

    /**
     * The connection stays with its client connection (reused for its next requests, never pooled):
     * it carries connection-bound authentication ({@link ForwardedHeaders#bindsConnection}).
     */
    void keepPrivate() {
        spoiled = true;
    }

    /**
     * The key under which the leg may wait for another client connection, or null if it may not:
     * made without a pool key (a PROXY header), spoiled, not between clean exchanges, failed,
     * closed or not writable.
     */
    BackendPool.Key idleKey() {
        return poolKey != null && clean && !spoiled && ready && failure == null && pending.isEmpty()
                && ch.isActive() && ch.isWritable() ? poolKey : null;
    }

    /** Parks the leg in {@code pool}: it forgets its client, and reads again (to see a close). */
    void park(BackendPool pool, long nowNanos) {
        listener = pool;
        conn = null;
        client = null;
        idleSince = nowNanos;
        ch.config().setAutoRead(true);
    }

    long idleSince() {
        return idleSince;
    }

    /** Takes a parked leg for the client connection {@code conn} on {@code client}, whose exchanges {@code listener} runs. */
    void adopt(Listener listener, ManagedConnection conn, Channel client) {
        this.listener = listener;
        this.conn = conn;
        this.client = client;
        // Both belong to the client connection the leg served before.
        this.quietPromise = null;
        this.clientUnflushed = false;
    }

    /** Makes the leg ready: what was held back is written and flushed. */
    void start() {
        ready = true;
        log.debug("{}connected to backend {}", conn.log(), ch.remoteAddress());
        HttpObject o;
        while ((o = pending.poll()) != null) {
            ch.write(o, ch.voidPromise());
        }
        backendUnflushed = false;
        ch.flush();
    }

    /**
     * Writes {@code obj} (unflushed), or holds it until the leg is ready.
     *
     * @return false if the backend channel is no longer writable: the client should pause
     */
    boolean write(HttpObject obj) {
        if (!ready) {
            pending.add(obj);
            return true;
        }
        ch.write(obj, ch.voidPromise());
        backendUnflushed = true;
        return ch.isWritable();
    }

    /**
     * Flushes what was written, if the leg is ready and anything was: a flush with nothing to
     * send still walks the pipeline (and makes a TLS backend's handler allocate a promise).
     */
    void flush() {
        if (ready && backendUnflushed) {
            backendUnflushed = false;
            ch.flush();
        }
    }

    /** Flushes what this leg relayed to the client since the last such flush, if anything. */
    void flushClient() {
        if (clientUnflushed) {
            clientUnflushed = false;
            client.flush();
        }
    }

    /**
     * Writes a head to the client, unflushed, with a promise nothing listens to (as a plain
     * {@code write} would allocate): its failure is dropped, as before, a closing client fails it.
     */
    private void headToClient(Object msg) {
        client.write(msg, quietPromise());
        clientUnflushed = true;
    }

    private VoidChannelPromise quietPromise() {
        if (quietPromise == null) {
            quietPromise = new VoidChannelPromise(client, false);
        }
        return quietPromise;
    }

    /** Writes content to the client, unflushed; a failed write reaches the client pipeline's exceptionCaught. */
    private void toClient(Object msg) {
        client.write(msg, client.voidPromise());
        clientUnflushed = true;
    }

    /** Whether the leg is connected and takes writes without more buffering. */
    boolean acceptsWrites() {
        return ready && ch.isWritable();
    }

    boolean isReady() {
        return ready;
    }

    Channel channel() {
        return ch;
    }

    HttpRoute.Forward target() {
        return target;
    }

    /** Writes bytes of a response relayed as bytes, unflushed: a head alone as {@link #headToClient} would, else as {@link #toClient}. */
    void rawToClient(ServerCodec sink, ByteBuf bytes, boolean headAlone) {
        sink.writeRaw(bytes, headAlone ? quietPromise() : client.voidPromise());
        clientUnflushed = true;
    }

    Listener listener() {
        return listener;
    }

    /** Stops reading the backend while the client does not take what is written to it. */
    void pauseIfClientFull() {
        if (!client.isWritable()) {
            ch.config().setAutoRead(false);
        }
    }

    /** Reads the backend again (the client drained). */
    void resume() {
        if (ch.isActive()) {
            ch.config().setAutoRead(true);
        }
    }

    /** Drops what is held back and closes the connection. */
    void close() {
        releasePending();
        ch.close();
    }

    /** Why the backend connection ended: the failure it reported, or {@code BACKEND_CLOSED}. */
    CloseReason closeReason() {
        return failure != null && failure != CloseReason.PROXY_ERROR ? failure : CloseReason.BACKEND_CLOSED;
    }

    private void releasePending() {
        HttpObject o;
        while ((o = pending.poll()) != null) {
            ReferenceCountUtil.release(o);
        }
    }


    // ------------------------------------------------------------------ the response, to the client

    /**
     * Relays one decoded object of {@code e}'s response to the client, unflushed (the listener
     * flushes at the end of each read), and pauses the backend while the client is full. Interim
     * (1xx) heads go to HTTP/1.1 clients and do not start the response (nor stop its timer); past
     * {@link HttpProxyHandler#MAX_INTERIM_HEADS} of them the backend is broken. Heads are checked
     * and rewritten by {@link ResponseHeads}; anything wrong is {@link Listener#legBroken}.
     *
     * @param clientClosing whether the client connection closes after this response anyway
     */
    void relay(Exchange e, Object msg, boolean clientClosing) {
        if (msg instanceof HttpResponse res) {
            if (res.decoderResult().isFailure() || msg instanceof HttpContent) {
                ReferenceCountUtil.release(msg);
                listener.legBroken(this, res.decoderResult().isFailure() ? res.decoderResult().cause().toString()
                        : "unexpected full response");
                return;
            }
            onHead(e, res, clientClosing);
        } else if (msg instanceof HttpContent c) {
            onContent(e, c);
        } else {
            ReferenceCountUtil.release(msg);
            listener.legBroken(this, "unexpected " + msg.getClass().getSimpleName());
        }
    }

    private void onHead(Exchange e, HttpResponse res, boolean clientClosing) {
        int code = res.status().code();
        if (code < 100 || code > 599) {
            listener.legBroken(this, "status " + code + " (expected: 100..599)");
            return;
        }
        if (code < 200 && code != 101) {
            // Interim heads (100, 102, 103) do not answer the request: the response timer runs
            // on, and a backend that streams them to a client that reads nothing is paused. A
            // backend that sends more than a legitimate one could is broken (or hostile).
            if (++e.interimHeads > HttpProxyHandler.MAX_INTERIM_HEADS) {
                listener.legBroken(this, "more than " + HttpProxyHandler.MAX_INTERIM_HEADS
                        + " interim responses to one request");
                return;
            }
            e.informational = true;
            e.dropInformational = e.http10;
            if (!e.http10) {
                ForwardedHeaders.stripHopByHop(res.headers());
                headToClient(res);
                pauseIfClientFull();
            } else {
                ReferenceCountUtil.release(res);
            }
            return;
        }
        e.cancelTimer();
        if (ForwardedHeaders.bindsConnection(res.headers(), io.netty.handler.codec.http.HttpHeaderNames.WWW_AUTHENTICATE)) {
            keepPrivate();
        }
        String broken = code == 101 ? ResponseHeads.checkSwitch(res, e) : ResponseHeads.checkFinal(res);
        if (broken != null) {
            listener.legBroken(this, broken);
            return;
        }
        if (code == 101) {
            ResponseHeads.prepareSwitch(res);
            e.upgradePending = true;
        } else {
            ResponseHeads.prepareFinal(res, e, clientClosing);
        }
        e.responseStarted = true;
        e.status = code;
        e.headNanos = System.nanoTime();
        headToClient(res);
    }

    private void onContent(Exchange e, HttpContent c) {
        if (c.decoderResult().isFailure()) {
            String why = c.decoderResult().cause().toString();
            c.release();
            listener.legBroken(this, why);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        if (e.upgradePending) {
            c.release();
            if (last) {
                listener.legSwitched(this, e);
            }
            return;
        }
        if (e.informational) {
            if (e.dropInformational) {
                c.release();
            } else {
                headToClient(c); // the (empty) end of an interim head
                pauseIfClientFull();
            }
            if (last) {
                // Flushed with the rest of the backend's read (legReadComplete), not one by one:
                // a TLS record per tiny head would pin a record-sized buffer for each.
                e.informational = false;
            }
            return;
        }
        if (!e.responseStarted) {
            c.release();
            listener.legBroken(this, "content before a response");
            return;
        }
        e.responseBytes += c.content().readableBytes();
        toClient(c);
        pauseIfClientFull();
        if (last) {
            e.responseComplete = true;
            flushClient();
            listener.legResponseComplete(this);
        }
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        listener.legRead(this, msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        listener.legReadComplete(this);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            listener.legWritable(this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // An untrusted certificate, a reset, a dead backend: a reason and one line.
        failure = CloseReasons.of(cause, CloseReasons.Leg.BACKEND);
        String prefix = conn != null ? conn.log() : "(pooled) ";
        if (CloseReasons.expected(failure)) {
            log.debug("{}backend error ({}): {}", prefix, failure, cause.toString());
        } else {
            log.warn("{}unexpected error on the HTTP backend leg", prefix, cause);
        }
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releasePending();
        listener.legInactive(this);
    }

    /**
     * Counts the raw bytes read from the backend, before TLS and HTTP decoding, for the client
     * connection using the leg at the time (none while it is parked).
     */
    private static final class RawBytes extends ChannelInboundHandlerAdapter {
        private final BackendLeg leg;

        RawBytes(BackendLeg leg) {
            this.leg = leg;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ManagedConnection c = leg.conn;
            if (c != null && msg instanceof ByteBuf b && b.isReadable()) {
                c.readFromBackend(b.readableBytes());
            }
            ctx.fireChannelRead(msg);
        }
    }
}
