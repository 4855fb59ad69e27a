package dev.smartproxy.internal.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.NetUtil;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The header policy of a forwarded message, pure and socket-free: which headers are hop-by-hop
 * ({@link #stripHopByHop}), and the {@code X-Forwarded-*} / {@code Forwarded} headers a backend
 * receives ({@link #apply}).
 *
 * <ul>
 *   <li><b>Not trusted</b> (the default, {@code HttpSettings.trustForwardedHeaders(false)}):
 *       every {@code X-Forwarded-*} and {@code Forwarded} header the client sent is removed,
 *       including spellings with {@code _} for {@code -} (a backend that folds them would read
 *       them as the real ones); then {@code X-Forwarded-For} is the client's IP,
 *       {@code X-Forwarded-Proto} {@code http} or {@code https}, and {@code X-Forwarded-Host} the
 *       Host the client sent, port included.</li>
 *   <li><b>Trusted</b> (behind another proxy): the client's IP is appended to
 *       {@code X-Forwarded-For}; {@code X-Forwarded-Proto} and {@code X-Forwarded-Host} are set
 *       only where absent.</li>
 * </ul>
 * <pre>{@code
 * ForwardedHeaders.stripHopByHop(request.headers());
 * ForwardedHeaders.apply(request.headers(), false, ForwardedHeaders.clientIp(address), true, "app.example:8443");
 * }</pre>
 */
final class ForwardedHeaders {
    static final String X_FORWARDED_FOR = "x-forwarded-for";
    static final String X_FORWARDED_PROTO = "x-forwarded-proto";
    static final String X_FORWARDED_HOST = "x-forwarded-host";
    private static final String X_FORWARDED_PREFIX = "x-forwarded-";
    /** Framing and routing headers a client's {@code Connection} list must never remove. */
    private static final String[] PROTECTED = {"content-length", "transfer-encoding", "host"};

    private ForwardedHeaders() {
    }

    /**
     * Removes hop-by-hop headers: {@code Connection} and the headers it names (never the framing
     * headers or Host), {@code Keep-Alive}, {@code Proxy-Connection}, {@code TE}, {@code Trailer}
     * and {@code Upgrade}. {@code Transfer-Encoding} stays: the codecs frame with it.
     */
    static void stripHopByHop(HttpHeaders h) {
        // The Connection list is scanned in place: no copy of its values, no split, no lower-cased
        // token per request; only a name to remove is made a String, and collected before removal
        // (a list may name Connection itself, whose values are being read).
        List<String> named = null;
        for (Iterator<? extends CharSequence> it = h.valueCharSequenceIterator(HttpHeaderNames.CONNECTION); it.hasNext(); ) {
            CharSequence list = it.next();
            int n = list.length();
            for (int i = 0; i < n; i++) {
                int start = i;
                while (i < n && list.charAt(i) != ',') {
                    i++;
                }
                int end = i;
                while (start < end && list.charAt(start) <= ' ') { // as String.trim()
                    start++;
                }
                while (end > start && list.charAt(end - 1) <= ' ') {
                    end--;
                }
                if (start == end || removedAnyway(list, start, end) || isProtected(list, start, end)) {
                    continue;
                }
                if (named == null) {
                    named = new ArrayList<>(2);
                }
                named.add(list.subSequence(start, end).toString());
            }
        }
        if (named != null) {
            for (String name : named) {
                h.remove(name); // header names compare case-insensitively
            }
        }
        h.remove(HttpHeaderNames.CONNECTION);
        h.remove(HttpHeaderNames.KEEP_ALIVE);
        h.remove(HttpHeaderNames.PROXY_CONNECTION);
        h.remove(HttpHeaderNames.TE);
        h.remove(HttpHeaderNames.TRAILER);
        h.remove(HttpHeaderNames.UPGRADE);
    }

    /** The hop-by-hop headers {@link #stripHopByHop} removes whether or not Connection names them. */
    private static final String[] ALWAYS_REMOVED = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
            "upgrade"};

    private static boolean removedAnyway(CharSequence s, int start, int end) {
        for (String name : ALWAYS_REMOVED) {
            if (equalsIgnoreCase(s, start, end, name)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isProtected(CharSequence s, int start, int end) {
        for (String name : PROTECTED) {
            if (equalsIgnoreCase(s, start, end, name)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code s[start, end)} is {@code lower}, ASCII letters compared without case. */
    private static boolean equalsIgnoreCase(CharSequence s, int start, int end, String lower) {
        if (end - start != lower.length()) {
            return false;
        }
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                c = (char) (c + ('a' - 'A'));
            }
            if (c != lower.charAt(i - start)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Rewrites a validated request for its backend: hop-by-hop headers go (a WebSocket
     * upgrade keeps {@code Connection: upgrade} and its {@code Upgrade}), the request line
     * carries the normalised origin form, an absolute-form authority becomes the Host, the
     * forwarded headers are set ({@link #apply}) and the version is HTTP/1.1.
     *
     * @param upgrade  whether the request asks for a WebSocket upgrade
     * @param trusted  whether the client's own forwarded headers are kept and appended to
     * @param clientIp the client's address, as {@link #clientIp} spells it
     * @param tls      whether the client connection is TLS
     */
    static void prepareRequest(HttpRequest req, RequestValidator.Valid v, boolean upgrade, boolean trusted,
                               String clientIp, boolean tls) {
        HttpHeaders h = req.headers();
        String upgradeTo = upgrade ? h.get(HttpHeaderNames.UPGRADE) : null;
        stripHopByHop(h);
        if (upgradeTo != null) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            h.set(HttpHeaderNames.UPGRADE, upgradeTo);
        }
        if (v.rewriteTarget()) {
            req.setUri(v.originForm());
        }
        if (v.authority() != null) {
            h.set(HttpHeaderNames.HOST, v.authority());
        }
        apply(h, trusted, clientIp, tls, v.hostValue());
        req.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /**
     * Sets the forwarded headers of a request on its way to a backend.
     *
     * @param trusted      whether the client's own forwarded headers are kept and appended to
     * @param clientIp     the client's address, as {@link #clientIp} spells it
     * @param tls          whether the client connection is TLS
     * @param originalHost the Host the client asked for, port included; null if none
     */
    static void apply(HttpHeaders h, boolean trusted, String clientIp, boolean tls, String originalHost) {
        String proto = tls ? "https" : "http";
        if (trusted) {
            String prior = String.join(", ", h.getAll(X_FORWARDED_FOR));
            h.set(X_FORWARDED_FOR, prior.isEmpty() ? clientIp : prior + ", " + clientIp);
            if (!h.contains(X_FORWARDED_PROTO)) {
                h.set(X_FORWARDED_PROTO, proto);
            }
            if (!h.contains(X_FORWARDED_HOST) && originalHost != null) {
                h.set(X_FORWARDED_HOST, originalHost);
            }
            return;
        }
        // Scans the names in place (no copy of the name set per request) and copies only the ones to remove.
        List<CharSequence> drop = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (isForwarded(name)) {
                if (drop == null) {
                    drop = new ArrayList<>(2);
                }
                drop.add(name);
            }
        }
        if (drop != null) {
            for (CharSequence name : drop) {
                h.remove(name);
            }
        }
        h.set(X_FORWARDED_FOR, clientIp);
        h.set(X_FORWARDED_PROTO, proto);
        if (originalHost != null) {
            h.set(X_FORWARDED_HOST, originalHost);
        }
    }

    /**
     * Whether {@code name} is {@code X-Forwarded-*} or {@code Forwarded}, ignoring case, with
     * {@code _} read as {@code -}: X_Forwarded_For is the same header to a backend that folds
     * '_' into '-' (many do).
     */
    static boolean isForwarded(CharSequence name) {
        return startsWithFolded(name, X_FORWARDED_PREFIX)
                || (name.length() == FORWARDED.length() && startsWithFolded(name, FORWARDED));
    }

    private static final String FORWARDED = "forwarded";

    private static boolean startsWithFolded(CharSequence name, String lowerPrefix) {
        int n = lowerPrefix.length();
        if (name.length() < n) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (c == '_') {
                c = '-';
            } else if (c >= 'A' && c <= 'Z') {
                c = (char) (c + ('a' - 'A'));
            }
            if (c != lowerPrefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** The IP of {@code address} as a backend reads it (IPv6 compressed, no brackets); "unknown" if null. */
    static String clientIp(InetSocketAddress address) {
        if (address == null) {
            return "unknown";
        }
        return address.getAddress() != null ? NetUtil.toAddressString(address.getAddress()) : address.getHostString();
    }

    /**
     * Whether {@code h} (a request's {@code Authorization} or a response's
     * {@code WWW-Authenticate}) starts NTLM or Negotiate authentication, which authenticates
     * the connection rather than the request: such a connection must never serve another client.
     */
    static boolean bindsConnection(io.netty.handler.codec.http.HttpHeaders h, CharSequence name) {
        if (!h.contains(name)) {
            return false;
        }
        for (String v : h.getAll(name)) {
            String t = v.stripLeading();
            if (t.regionMatches(true, 0, "NTLM", 0, 4) || t.regionMatches(true, 0, "Negotiate", 0, 9)) {
                return true;
            }
        }
        return false;
    }
}
