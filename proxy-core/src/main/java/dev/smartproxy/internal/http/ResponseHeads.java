package dev.smartproxy.internal.http;

import dev.smartproxy.event.CloseReason;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The rules for response heads, pure and socket-free: which backend heads are refused
 * ({@link #checkFinal}, {@link #checkSwitch}), how an accepted one is rewritten for the client
 * ({@link #prepareFinal}, {@link #prepareSwitch}), and the responses the proxy makes itself
 * ({@link #local}).
 * <pre>{@code
 * String broken = ResponseHeads.checkFinal(response);
 * if (broken == null) {
 *     ResponseHeads.prepareFinal(response, exchange, closing);
 * }
 * }</pre>
 */
final class ResponseHeads {
    private ResponseHeads() {
    }

    /**
     * Why a final (2xx-5xx) response head cannot be forwarded, or null: Transfer-Encoding with
     * Content-Length, or not ending in chunked. Ambiguous framing must not reach the client (RFC
     * 9112 6.3): refused, not repaired.
     */
    static String checkFinal(HttpResponse res) {
        HttpHeaders h = res.headers();
        List<String> codings = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!codings.isEmpty() && (h.contains(HttpHeaderNames.CONTENT_LENGTH) || !RequestValidator.finalChunked(codings))) {
            return "Transfer-Encoding " + codings + " with Content-Length or not ending in chunked";
        }
        return null;
    }

    /**
     * Why a 101 cannot be forwarded, or null: the request asked no WebSocket upgrade, a response
     * already started, or the 101 lacks the Sec-WebSocket-Accept the request's key asks for
     * (without it Netty's decoder would wait for a Hixie-76 body that never comes).
     */
    static String checkSwitch(HttpResponse res, Exchange e) {
        if (!e.upgrade || e.responseStarted) {
            return "101 to a request that asked no WebSocket upgrade";
        }
        String accept = res.headers().get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
        if (accept == null || !accept.trim().equals(e.expectedAccept)) {
            return "101 without the Sec-WebSocket-Accept the request's key asks for";
        }
        return null;
    }

    /** Rewrites an accepted 101 for the client: hop-by-hop headers go, {@code Connection: Upgrade} and Upgrade stay. */
    static void prepareSwitch(HttpResponse res) {
        HttpHeaders h = res.headers();
        String upgrade = h.get(HttpHeaderNames.UPGRADE);
        ForwardedHeaders.stripHopByHop(h);
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        if (upgrade != null) {
            h.set(HttpHeaderNames.UPGRADE, upgrade);
        }
    }

    /**
     * Rewrites an accepted final response head for the client of {@code e}, and records in
     * {@code e} whether the backend keeps its connection and whether the client's must close:
     * hop-by-hop headers go; a body delimited by the backend's close is re-framed chunked for
     * HTTP/1.1 clients (an HTTP/1.0 client gets it as is, then a close); an HTTP/1.0 client
     * never gets chunked framing; {@code Connection} says close or keep-alive as the client needs.
     *
     * @param clientClosing whether the client connection will close after this response anyway
     */
    static void prepareFinal(HttpResponse res, Exchange e, boolean clientClosing) {
        HttpHeaders h = res.headers();
        int code = res.status().code();
        e.backendKeepAlive = HttpUtil.isKeepAlive(res);
        ForwardedHeaders.stripHopByHop(h);
        boolean bodyless = e.head || code == 204 || code == 304;
        boolean chunked = HttpUtil.isTransferEncodingChunked(res);
        if (!bodyless && !chunked && !h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // The body ends when the backend closes: re-frame it for HTTP/1.1 clients.
            e.backendKeepAlive = false;
            if (e.http10) {
                e.closeAfterResponse(CloseReason.BACKEND_CLOSED);
            } else {
                HttpUtil.setTransferEncodingChunked(res, true);
            }
        }
        if (e.http10 && chunked) {
            h.remove(HttpHeaderNames.TRANSFER_ENCODING);
            if (!bodyless) {
                e.closeAfterResponse(CloseReason.BACKEND_CLOSED);
            }
        }
        if (!e.clientKeepAlive || e.closeAfter || clientClosing) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (e.http10) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        res.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /**
     * A response made by the proxy: {@code status} with a one-line text body, a Location if
     * given, and {@code Connection: close} unless kept alive ({@code keep-alive} for HTTP/1.0).
     */
    static FullHttpResponse local(HttpResponseStatus status, String location, boolean keep, boolean http10) {
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
}
