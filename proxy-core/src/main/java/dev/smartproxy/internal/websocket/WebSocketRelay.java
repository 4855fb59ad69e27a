package dev.smartproxy.internal.websocket;

import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.util.Checks;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ConnectionActions;
import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Relays WebSocket frames between the two legs of a terminated connection after the HTTP
 * Upgrade, and keeps each leg under its own heartbeat.
 *
 * <h2>Pipelines</h2>
 * {@link #install} adds three handlers at the end of each pipeline: {@value #ENCODER},
 * {@value #DECODER} and {@value #HANDLER}. The decoder, a {@link FrameScanner}, checks frame
 * headers (client frames masked, backend frames not) and hands on whole frames as the bytes they
 * came as: peer frames are never decoded, unmasked or re-encoded (a client frame reaches the
 * backend with the client's mask, valid there as the proxy is the backend's client). The encoder
 * encodes only the proxy's own Pings and Closes (masked towards the backend). RSV bits and
 * payloads pass untouched, so extensions the peers negotiate in the Upgrade (which the proxy
 * passes on), such as {@code permessage-deflate}, work end to end.
 *
 * <h2>Relay</h2>
 * Data, continuation, and the peers' own Ping and Pong frames are relayed unchanged, the frames
 * of one read as one write, flushed once per read burst. The proxy never answers a peer's Ping
 * itself. A leg stops being read while the other leg is not writable and resumes when it is.
 * Relayed payload bytes are counted on the {@link ManagedConnection} (and so reset its
 * inactivity timer); the proxy's own heartbeat frames are not counted.
 *
 * <h2>Reassembly budget</h2>
 * A frame split across reads is held by the scanner until it is complete (up to
 * {@link WebSocketSettings#maxFrameSize()}), so the proxy's own frames always go out between
 * whole frames. Those bytes count in the proxy's
 * {@link BufferBudget}: a leg holding more than 16 KiB of a partial frame while the budget is
 * full stops being read (backpressure, not a close) and resumes when the budget has room. A
 * partial frame moves no payload, so a leg stuck that way is ended by the inactivity timeout.
 *
 * <h2>Heartbeat</h2>
 * With a non-zero {@link WebSocketSettings#pingInterval()}, every interval each leg receives a
 * Ping whose payload starts with a per-connection marker. Only the Pong that echoes that payload
 * answers it: data frames and other control frames are <em>not</em> proof of life. The answer is
 * due {@link WebSocketSettings#pingTimeout()} after the Ping was written to the socket (a Ping
 * stuck behind a congested leg has not reached the peer yet); while the proxy itself has paused
 * reading that leg (for backpressure or the buffer budget), the deadline is extended, as the Pong
 * may be waiting unread.
 * No answer: {@link CloseReason#HEARTBEAT_TIMEOUT}, the other peer receives Close 1001
 * "heartbeat timeout", and both channels close. Pongs carrying the marker are consumed, never
 * relayed. At most one proxy Ping is outstanding per leg.
 *
 * <h2>Close</h2>
 * A peer's Close is relayed with its status and reason; the other peer's reply is relayed back,
 * then both channels close ({@link CloseReason#CLIENT_CLOSED} or {@link CloseReason#BACKEND_CLOSED},
 * whoever closed first). Without a reply within {@code pingTimeout} the initiator receives
 * Close 1001 and both close. A leg whose TCP connection ends (FIN, close or reset) without a
 * Close frame makes the proxy send the other peer Close 1001. A protocol error (bad frame, an
 * unmasked client frame, a masked backend frame, a frame over
 * {@link WebSocketSettings#maxFrameSize()}) records {@link CloseReason#PROTOCOL_ERROR} or
 * {@link CloseReason#BACKEND_PROTOCOL_ERROR}; the offender receives Close 1002 (1009 for a frame
 * too big) and the other peer Close 1001.
 *
 * <p>Every ending flushes the Close frames and then closes each channel; if a channel is still
 * open {@code pingTimeout} later (a flush stuck behind a peer that reads nothing), the relay
 * calls {@link ConnectionActions#close(CloseReason)} with the recorded reason.
 *
 * <p>Created per connection; both channels must share one event loop, on which every method runs.
 * <pre>{@code
 * // on the event loop, right after the 101 was written to the client:
 * WebSocketRelay.install(client, backend, WebSocketSettings.defaults(), conn, actions, px.budget());
 * // then the HTTP codecs leave both pipelines (HttpProxyHandler's hand-off: the client's
 * // ServerCodec, the backend's BackendCodec), the bytes they hold passed on
 * }</pre>
 */
public final class WebSocketRelay {
    private static final Logger log = LoggerFactory.getLogger(WebSocketRelay.class);

    /** Name of the frame encoder in each pipeline. */
    public static final String ENCODER = PipelineNames.WS_ENCODER;
    /** Name of the frame decoder in each pipeline. */
    public static final String DECODER = PipelineNames.WS_DECODER;
    /** Name of the relay handler in each pipeline. */
    public static final String HANDLER = PipelineNames.WS_RELAY;
    /** Every payload of the proxy's Pings starts with this, then a per-connection nonce and a counter. */
    public static final String PING_MARKER = "smartproxy-ping:";

    static final String HEARTBEAT_TIMEOUT_REASON = "heartbeat timeout";

    private final ManagedConnection conn;
    private final WebSocketSettings settings;
    private final ConnectionActions actions;
    private final BufferBudget budget;
    private final Leg client;
    private final Leg backend;
    private final byte[] pingPrefix;

    /** A Close handshake is under way: no more Pings. */
    private boolean closing;
    /** The relay is ending: channels are closing, nothing more is relayed. */
    private boolean finished;
    private Future<?> closeBound;
    private Future<?> hardCloseBound;
    private final WebSocketTally tally;

    private WebSocketRelay(Channel client, Channel backend, WebSocketSettings settings, ManagedConnection conn,
                           ConnectionActions actions, BufferBudget budget) {
        this.conn = conn;
        this.tally = new WebSocketTally(conn);
        this.settings = settings;
        this.actions = actions;
        this.budget = budget;
        this.client = new Leg(true, client);
        this.backend = new Leg(false, backend);
        this.client.other = this.backend;
        this.backend.other = this.client;
        this.pingPrefix = (PING_MARKER + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ":")
                .getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Adds the WebSocket codecs and the relay at the end of both pipelines, marks the
     * connection as a WebSocket and starts the heartbeat.
     *
     * <p>Call on the channels' (shared) event loop right after the 101 was written to the client,
     * then remove the HTTP handlers: bytes they still buffer reach the new decoders.
     */
    public static void install(Channel client, Channel backend, WebSocketSettings settings, ManagedConnection conn,
                               ConnectionActions actions, BufferBudget budget) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(conn, "conn");
        Objects.requireNonNull(actions, "actions");
        Objects.requireNonNull(budget, "budget");
        conn.markWebSocket();
        WebSocketRelay relay = new WebSocketRelay(client, backend, settings, conn, actions, budget);
        relay.client.install();
        relay.backend.install();
        log.debug("{}WebSocket relay installed ({})", conn.log(), settings);
        relay.client.watchClose();
        relay.backend.watchClose();
        relay.client.schedulePing();
        relay.backend.schedulePing();
    }

    /** Whether a Pong's payload starts with this relay's marker: an answer to the proxy's own Ping. */
    private boolean ownPong(byte[] payload) {
        return payload.length >= pingPrefix.length
                && Arrays.equals(payload, 0, pingPrefix.length, pingPrefix, 0, pingPrefix.length);
    }

    /** Whole frames from {@code from} ({@code payloadBytes} of payload), to be relayed to the other leg. */
    private void relay(Leg from, ByteBuf frames, int messages, int payloadBytes) {
        from.read(payloadBytes);
        Leg to = from.other;
        if (finished || to.closeSent || !to.channel.isActive()) {
            frames.release();
            return;
        }
        tally.relayed(from.clientLeg, messages, payloadBytes);
        to.out.write(frames, to.channel.voidPromise()); // relayed bytes need no encoder
        to.unflushed = true;
        if (!to.channel.isWritable()) {
            from.pause();
        }
    }

    /** A Close frame from {@code from}: relay it as it came; the second Close of the handshake ends the relay. */
    private void closeFrom(Leg from, ByteBuf frame, byte[] payload) {
        from.closeReceived = true;
        int code = tally.closeReceived(from.clientLeg, payload);
        if (finished) {
            frame.release();
            return;
        }
        Leg to = from.other;
        if (!closing) {
            closing = true;
            conn.closeReason(from.clientLeg ? CloseReason.CLIENT_CLOSED : CloseReason.BACKEND_CLOSED);
            log.debug("{}{} sent Close {} ({} bytes)", conn.log(), from.name(), code, payload.length);
            client.stopHeartbeat();
            backend.stopHeartbeat();
            if (sendClose(to, frame)) {
                closeBound = from.channel.eventLoop().schedule(() -> closeUnanswered(from),
                        settings.pingTimeout().toNanos(), TimeUnit.NANOSECONDS);
            } else {
                frame.release();
                sendClose(from, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), to.name() + " gone");
                finish();
            }
        } else {
            log.debug("{}{} answered Close {}", conn.log(), from.name(), code);
            if (!sendClose(to, frame)) {
                frame.release();
            }
            finish();
        }
    }

    private void closeUnanswered(Leg initiator) {
        closeBound = null;
        if (finished) {
            return;
        }
        log.debug("{}no Close reply from the {} within {}", conn.log(), initiator.other.name(),
                Checks.format(settings.pingTimeout()));
        sendClose(initiator, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), "close timeout");
        finish();
    }

    private void heartbeatTimedOut(Leg dead) {
        if (finished) {
            return;
        }
        conn.closeReason(CloseReason.HEARTBEAT_TIMEOUT);
        log.info("{}no Pong from the {} within {}: closing", conn.log(), dead.name(),
                Checks.format(settings.pingTimeout()));
        sendClose(dead.other, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), HEARTBEAT_TIMEOUT_REASON);
        finish(dead); // nothing queued for a dead peer is worth waiting for
    }

    private void protocolError(Leg bad, Throwable cause) {
        if (finished) {
            return;
        }
        conn.closeReason(bad.clientLeg ? CloseReason.PROTOCOL_ERROR : CloseReason.BACKEND_PROTOCOL_ERROR);
        boolean tooBig = cause instanceof CorruptedWebSocketFrameException c
                && c.closeStatus() != null
                && c.closeStatus().code() == WebSocketCloseStatus.MESSAGE_TOO_BIG.code();
        log.debug("{}WebSocket protocol error from the {}: {}", conn.log(), bad.name(), cause.getMessage());
        if (tooBig) {
            sendClose(bad, WebSocketCloseStatus.MESSAGE_TOO_BIG.code(), "frame too big");
        } else {
            sendClose(bad, WebSocketCloseStatus.PROTOCOL_ERROR.code(), "protocol error");
        }
        sendClose(bad.other, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), bad.name() + " protocol error");
        finish();
    }

    /** A leg's input ended (FIN, close or reset) or failed. */
    private void legEnded(Leg leg, CloseReason reason) {
        if (finished) {
            return;
        }
        conn.closeReason(reason);
        log.debug("{}{} leg ended ({})", conn.log(), leg.name(), reason);
        sendClose(leg.other, WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), leg.name() + " gone");
        finish(leg);
    }

    private void unexpected(Leg leg, Throwable cause) {
        if (finished) {
            return;
        }
        log.warn("{}unexpected error on the {} WebSocket leg", conn.log(), leg.name(), cause);
        conn.closeReason(CloseReason.PROXY_ERROR);
        sendClose(client, WebSocketCloseStatus.INTERNAL_SERVER_ERROR.code(), "proxy error");
        sendClose(backend, WebSocketCloseStatus.INTERNAL_SERVER_ERROR.code(), "proxy error");
        finish();
    }

    /** Sends {@code leg} a new Close frame, once. */
    private void sendClose(Leg leg, int code, String reason) {
        CloseWebSocketFrame frame = new CloseWebSocketFrame(code, reason);
        if (!sendClose(leg, frame)) {
            frame.release();
        }
    }

    /** Writes a Close ({@link CloseWebSocketFrame} or a peer's as bytes) unless one was sent; false: not written (caller releases). */
    private boolean sendClose(Leg leg, ReferenceCounted frame) {
        if (leg.closeSent || !leg.channel.isActive()) {
            return false;
        }
        leg.closeSent = true;
        leg.channel.writeAndFlush(frame, leg.channel.voidPromise());
        return true;
    }

    /** Ends the relay: each channel closes once what is queued on it is written. */
    private void finish() {
        finish(null);
    }

    /** Ends the relay, closing {@code closeNow} at once and the other leg(s) after their flush. */
    private void finish(Leg closeNow) {
        if (finished) {
            return;
        }
        finished = true;
        closing = true;
        client.stopHeartbeat();
        backend.stopHeartbeat();
        cancel(closeBound);
        closeBound = null;
        for (Leg leg : new Leg[]{client, backend}) {
            if (leg == closeNow) {
                leg.channel.close();
            } else {
                closeAfterFlush(leg.channel);
            }
        }
        Channel open = backend.channel.isOpen() ? backend.channel : client.channel.isOpen() ? client.channel : null;
        if (open != null) {
            hardCloseBound = open.eventLoop().schedule(this::hardClose, settings.pingTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }
    }

    private void hardClose() {
        hardCloseBound = null;
        if (client.channel.isOpen() || backend.channel.isOpen()) {
            CloseReason reason = conn.closeReason() != null ? conn.closeReason() : CloseReason.PROXY_ERROR;
            conn.closeReason(reason);
            log.debug("{}flush did not finish within {}: closing now", conn.log(),
                    Checks.format(settings.pingTimeout()));
            // Both legs directly: the caller's actions may know only the client leg.
            client.channel.close();
            backend.channel.close();
            actions.close(reason);
        }
    }

    private static void closeAfterFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }

    private static void cancel(Future<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    private void bothClosedCheck() {
        if (!client.channel.isOpen() && !backend.channel.isOpen()) {
            tally.ended();
            cancel(hardCloseBound);
            hardCloseBound = null;
            cancel(closeBound);
            closeBound = null;
        }
    }

    /** One leg: its channel, its heartbeat and its half of the Close handshake. Created per channel. */
    private final class Leg extends ChannelInboundHandlerAdapter implements FrameScanner.Sink {
        private final boolean clientLeg;
        private final Channel channel;
        private Leg other;
        /** The encoder's context: relayed frames are written and flushed from there, past it. */
        private ChannelHandlerContext out;

        private boolean closeSent;
        private boolean closeReceived;
        /** Relayed frames were written to this leg since its last flush. */
        private boolean unflushed;
        /** Reading stopped by this relay because the other leg is not writable. */
        private boolean paused;
        /** Reading stopped because the proxy's buffer budget is full (a partial frame above 16 KiB). */
        private boolean starved;

        private long pings;
        private byte[] awaiting;
        private Future<?> pingTask;
        private Future<?> pongDeadline;

        Leg(boolean clientLeg, Channel channel) {
            this.clientLeg = clientLeg;
            this.channel = channel;
        }

        String name() {
            return clientLeg ? "client" : "backend";
        }

        void install() {
            ChannelPipeline p = channel.pipeline();
            p.addLast(ENCODER, new WebSocket13FrameEncoder(!clientLeg));
            out = p.context(ENCODER);
            p.addLast(DECODER, new FrameScanner(clientLeg, settings.maxFrameSize(),
                    budget.holder(channel.eventLoop(), conn, () -> setStarved(false)),
                    () -> setStarved(true), () -> setStarved(false), this));
            p.addLast(HANDLER, this);
        }

        void watchClose() {
            channel.closeFuture().addListener(f -> {
                stopHeartbeat();
                if (!finished) {
                    legEnded(this, clientLeg ? CloseReason.CLIENT_CLOSED : CloseReason.BACKEND_CLOSED);
                }
                bothClosedCheck();
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg); // frames come through the Sink methods: this is not ours to relay
        }

        private void read(int payloadBytes) {
            if (clientLeg) {
                conn.readFromClient(payloadBytes);
            } else {
                conn.readFromBackend(payloadBytes);
            }
        }

        @Override
        public void frames(ByteBuf frames, int messages, int payloadBytes) {
            relay(this, frames, messages, payloadBytes);
        }

        @Override
        public void pong(ByteBuf frame, byte[] payload) {
            if (ownPong(payload)) { // consumed: neither relayed nor counted
                frame.release();
                pong(payload);
            } else {
                frames(frame, 0, payload.length);
            }
        }

        @Override
        public void close(ByteBuf frame, byte[] payload) {
            read(payload.length);
            closeFrom(this, frame, payload);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (other.unflushed) {
                other.unflushed = false;
                other.out.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (channel.isWritable()) {
                other.resume();
            }
            ctx.fireChannelWritabilityChanged();
        }

        void pause() {
            setPaused(true);
        }

        void resume() {
            setPaused(false);
        }

        private void setPaused(boolean p) {
            if (paused != p) {
                paused = p;
                updateReading();
            }
        }

        /** The budget is full ({@code true}: stop reading this leg) or has room again. */
        void setStarved(boolean s) {
            if (starved != s) {
                starved = s;
                updateReading();
            }
        }

        /** Reads while neither the other leg's backpressure nor the budget stops it, until the relay ends. */
        private void updateReading() {
            if (paused || starved) {
                channel.config().setAutoRead(false);
            } else if (!finished) {
                channel.config().setAutoRead(true);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                if (!closeReceived) {
                    legEnded(this, clientLeg ? CloseReason.CLIENT_CLOSED : CloseReason.BACKEND_CLOSED);
                }
                return; // after its Close, a FIN only ends the peer's sending: the handshake goes on
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof DecoderException) {
                protocolError(this, cause);
            } else if (cause instanceof IOException) {
                CloseReason reason = CloseReasons.of(cause, clientLeg ? CloseReasons.Leg.CLIENT : CloseReasons.Leg.BACKEND);
                log.debug("{}{} error: {}", conn.log(), name(), cause.toString());
                legEnded(this, reason);
            } else {
                unexpected(this, cause);
            }
        }

        // ---- heartbeat

        void schedulePing() {
            if (settings.heartbeatEnabled() && !closing && channel.isActive()) {
                pingTask = channel.eventLoop().schedule(this::pingDue, settings.pingInterval().toNanos(),
                        TimeUnit.NANOSECONDS);
            }
        }

        private void pingDue() {
            pingTask = null;
            if (closing || !channel.isActive()) {
                return;
            }
            if (awaiting == null) {
                byte[] payload = (new String(pingPrefix, StandardCharsets.US_ASCII) + (++pings))
                        .getBytes(StandardCharsets.US_ASCII);
                awaiting = payload;
                ChannelFuture written = channel.writeAndFlush(new PingWebSocketFrame(Unpooled.wrappedBuffer(payload)));
                written.addListener(f -> {
                    if (f.isSuccess() && awaiting == payload && !closing) {
                        armPongDeadline();
                    }
                });
            }
            schedulePing();
        }

        private void armPongDeadline() {
            pongDeadline = channel.eventLoop().schedule(this::pongOverdue, settings.pingTimeout().toNanos(),
                    TimeUnit.NANOSECONDS);
        }

        private void pongOverdue() {
            pongDeadline = null;
            if (awaiting == null || closing) {
                return;
            }
            if ((paused || starved) && channel.isActive()) {
                armPongDeadline(); // the Pong may be waiting unread behind our own backpressure
                return;
            }
            heartbeatTimedOut(this);
        }

        private void pong(byte[] payload) {
            byte[] expected = awaiting;
            if (expected != null && Arrays.equals(payload, expected)) {
                awaiting = null;
                cancel(pongDeadline);
                pongDeadline = null;
            } else if (log.isDebugEnabled()) {
                log.debug("{}stale heartbeat Pong from the {}: {}", conn.log(), name(),
                        new String(payload, StandardCharsets.US_ASCII));
            }
        }

        void stopHeartbeat() {
            cancel(pingTask);
            pingTask = null;
            cancel(pongDeadline);
            pongDeadline = null;
            awaiting = null;
        }
    }
}
