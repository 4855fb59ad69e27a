package dev.smartproxy.internal.http;

import dev.smartproxy.event.CloseReason;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;

/**
 * One request and its response: what the request asked for (fixed when its head is read) and
 * how far each half has got. Plain state, read and written by {@link HttpProxyHandler} on the
 * client's event loop, and by the pure {@link ResponseHeads} rules.
 */
final class Exchange {
    final HttpRequest request;
    final boolean clientKeepAlive;
    final boolean http10;
    final boolean head;
    /** Whether the request asks for a WebSocket upgrade. */
    final boolean upgrade;
    final boolean hasBody;
    /** The Sec-WebSocket-Accept a 101 to this request must carry; null if it asks no upgrade. */
    final String expectedAccept;
    String routeName;
    BackendLeg leg;
    /** The leg had served an exchange before this one (so it may have been closed as idle under it). */
    boolean reusedLeg;
    /** Sent once more on a new leg after its reused one closed unanswered. */
    boolean retried;
    long bodyBytes;
    boolean requestComplete;
    boolean responseStarted;
    boolean responseComplete;
    /** Answered by the proxy itself: the rest of the body is read and dropped. */
    boolean local;
    boolean backendKeepAlive;
    /** Inside an interim (1xx) response: its content goes to the client (or nowhere, HTTP/1.0). */
    boolean informational;
    boolean dropInformational;
    boolean upgradePending;
    boolean closeAfter;
    CloseReason closeReason;
    /** What a deadline field holds when it is not set. */
    static final long NO_DEADLINE = Long.MIN_VALUE;
    /**
     * No response head by then (event-loop ticker nanos) answers 504
     * ({@code HttpSettings.responseTimeout()}); {@link #NO_DEADLINE} when not armed. The
     * handler's shared deadline check reads it.
     */
    long responseDeadline = NO_DEADLINE;
    int interimHeads;
    // Telemetry: System.nanoTime() of the head's arrival and of the response head; the status and
    // body bytes sent to the client; whether the exchange was reported (metrics, event) already.
    long startNanos;
    long headNanos;
    int status;
    long responseBytes;
    boolean reported;

    Exchange(HttpRequest request, boolean hasBody) {
        this.request = request;
        this.clientKeepAlive = HttpUtil.isKeepAlive(request);
        this.http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
        this.head = request.method().equals(HttpMethod.HEAD);
        this.upgrade = isWebSocketUpgrade(request);
        this.hasBody = hasBody;
        this.expectedAccept = upgrade ? webSocketAccept(request.headers().get(HttpHeaderNames.SEC_WEBSOCKET_KEY)) : null;
    }

    /** Marks the response as answered in full by the proxy. */
    void answeredLocally() {
        local = true;
        responseStarted = true;
        responseComplete = true;
    }

    /** Closes the client connection with {@code reason} once this response is complete. */
    void closeAfterResponse(CloseReason reason) {
        closeAfter = true;
        closeReason = reason;
    }

    void cancelTimer() {
        responseDeadline = NO_DEADLINE;
    }

    /**
     * What goes to the backend for the head: a request without a body goes whole (head and end
     * as one message, which the encoder writes as one buffer: one write through the backend
     * pipeline and one send instead of two), else the head alone, its body to follow.
     */
    HttpObject outgoing() {
        if (hasBody) {
            return request;
        }
        return new DefaultFullHttpRequest(request.protocolVersion(), request.method(), request.uri(),
                Unpooled.EMPTY_BUFFER, request.headers(), EmptyHttpHeaders.INSTANCE);
    }

    /**
     * Whether the request's body content goes to the backend: not for a request the proxy answers
     * itself, nor for one without a body, whose empty end went with its head ({@link #outgoing}).
     */
    boolean forwardsContent() {
        return !local && hasBody;
    }

    /**
     * Whether the request may be sent once more on a new leg after its reused one closed without
     * a response: an idempotent request without a body, nothing of it answered, not retried yet.
     * Anything else cannot be known unsent.
     */
    boolean retryableOnNewLeg() {
        return reusedLeg && !retried && interimHeads == 0 && !hasBody && bodyBytes == 0 && !upgradePending
                && idempotent(request.method());
    }

    private static boolean idempotent(HttpMethod m) {
        return m.equals(HttpMethod.GET) || m.equals(HttpMethod.HEAD) || m.equals(HttpMethod.OPTIONS)
                || m.equals(HttpMethod.PUT) || m.equals(HttpMethod.DELETE) || m.equals(HttpMethod.TRACE);
    }

    /** Whether a request asks for a WebSocket upgrade (Upgrade: websocket, Connection: upgrade). */
    static boolean isWebSocketUpgrade(HttpRequest req) {
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
}
