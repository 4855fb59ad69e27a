package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.NetUtil;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Everything checked of a request head before it is routed, as one pure function:
 * {@link #validate} turns a decoded {@link HttpRequest} and the {@link HttpSettings} into either
 * a {@link Valid} request (its target, routing host, normalised path and origin form, declared
 * body length) or a {@link Refusal} (the status to answer, the close reason, the reason to log).
 * Touches no channel; safe from any thread. The checks, in order (the first that fails decides):
 *
 * <ol>
 *   <li>more header fields than {@link HttpSettings#maxHeaderCount()}: 431;</li>
 *   <li>{@code CONNECT}: 405 (this is a reverse proxy, not a tunnel);</li>
 *   <li>Content-Length with Transfer-Encoding, more than one Content-Length, a Transfer-Encoding
 *       not ending in a single {@code chunked} or on HTTP/1.0: 400 (Netty's strict decoder already
 *       refuses these; checked again so that no decoder setting lets an ambiguous request
 *       through);</li>
 *   <li>a transfer coding the proxy does not know: 501;</li>
 *   <li>more than one Host: 400;</li>
 *   <li>a request target that is not origin-form, absolute-form ({@code http}/{@code https}, no
 *       userinfo) or {@code OPTIONS *}: 400;</li>
 *   <li>a path {@link RequestPath#normalize} refuses: 400;</li>
 *   <li>no Host on HTTP/1.1 (absolute-form supplies it), or a Host that is not
 *       {@code host[:port]}: 400;</li>
 *   <li>a declared Content-Length over {@link HttpSettings#maxRequestBodySize()}: 413.</li>
 * </ol>
 *
 * Every refusal closes the connection with {@link CloseReason#PROTOCOL_ERROR}.
 * <pre>{@code
 * if (RequestValidator.validate(request, settings) instanceof RequestValidator.Valid v) {
 *     router.route(v.routingHost(), v.path(), v.originForm(), request.headers());
 * }
 * }</pre>
 */
final class RequestValidator {
    /** Transfer codings a request may name (RFC 9110 8.4.1, 9112 7): anything else is answered 501. */
    private static final Set<String> KNOWN_CODINGS = Set.of("chunked", "gzip", "x-gzip", "deflate", "compress",
            "x-compress");

    private RequestValidator() {
    }

    /** The outcome of {@link #validate}: {@link Valid} or {@link Refusal}. */
    sealed interface Verdict permits Valid, Refusal {
    }

    /**
     * A request that may be routed.
     *
     * @param path           the normalised path (no query), what routes match; {@code *} for {@code OPTIONS *}
     * @param originForm     the normalised path with the query untouched: the request target to forward
     * @param rewriteTarget  whether the request line must be rewritten to {@code originForm}
     *                       (absolute-form, or a path normalisation changed)
     * @param authority      the authority of an absolute-form target (it replaces Host), else null
     * @param hostValue      the Host the client asked for (the authority, else the Host header), as
     *                       sent; null only for HTTP/1.0 without one
     * @param routingHost    {@code hostValue} without its port, lower case, IPv6 without brackets; or null
     * @param declaredLength the Content-Length, or -1 if none
     * @param hasBody        whether a body follows (a positive Content-Length, or Transfer-Encoding)
     */
    record Valid(String path, String originForm, boolean rewriteTarget, String authority, String hostValue,
                 String routingHost, long declaredLength, boolean hasBody) implements Verdict {
    }

    /**
     * A request that is answered {@code status} and closes the connection with {@code reason}.
     *
     * @param why what was wrong, for the log; never more than 200 characters of the client's input
     */
    record Refusal(HttpResponseStatus status, CloseReason reason, String why) implements Verdict {
    }

    /**
     * The refusal for a head the decoder could not parse: 431 for headers too large, 414 for a
     * request line too long, 400 otherwise.
     */
    static Refusal malformed(Throwable cause) {
        HttpResponseStatus status = cause instanceof TooLongHttpHeaderException
                ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                : HttpResponseStatus.BAD_REQUEST;
        return new Refusal(status, CloseReason.PROTOCOL_ERROR, "malformed: " + cause);
    }

    /** Checks {@code req} (successfully decoded) against {@code settings}; see the class comment. */
    static Verdict validate(HttpRequest req, HttpSettings settings) {
        HttpHeaders h = req.headers();
        if (h.size() > settings.maxHeaderCount()) {
            return refuse(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    h.size() + " header fields (limit " + settings.maxHeaderCount() + ")");
        }
        if (req.method().equals(HttpMethod.CONNECT)) {
            return refuse(HttpResponseStatus.METHOD_NOT_ALLOWED, "CONNECT");
        }
        List<String> lengths = h.getAll(HttpHeaderNames.CONTENT_LENGTH);
        List<String> codings = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!codings.isEmpty() && !lengths.isEmpty()) {
            return badRequest("both Content-Length and Transfer-Encoding");
        }
        if (lengths.size() > 1) {
            return badRequest("more than one Content-Length");
        }
        boolean http10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
        if (!codings.isEmpty() && (http10 || !finalChunked(codings))) {
            return badRequest("Transfer-Encoding " + abbreviate(codings.toString())
                    + " (expected: ending in a single chunked, HTTP/1.1)");
        }
        if (!codings.isEmpty() && !knownCodings(codings)) {
            return refuse(HttpResponseStatus.NOT_IMPLEMENTED, "Transfer-Encoding "
                    + abbreviate(codings.toString()) + ": a coding the proxy does not know");
        }
        List<String> hosts = h.getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            return badRequest("more than one Host header");
        }

        // The request target: origin-form, absolute-form (its authority replaces Host), or *.
        String uri = req.uri();
        String authority = null;
        String origin;
        if (uri.startsWith("/")) {
            origin = uri;
        } else if (uri.equals("*") && req.method().equals(HttpMethod.OPTIONS)) {
            origin = uri;
        } else {
            int schemeEnd = startsWithAsciiIgnoreCase(uri, "http://") ? 7
                    : startsWithAsciiIgnoreCase(uri, "https://") ? 8 : -1;
            int end = schemeEnd;
            while (end >= 0 && end < uri.length() && "/?#".indexOf(uri.charAt(end)) < 0) {
                end++;
            }
            if (schemeEnd < 0 || end == schemeEnd || uri.lastIndexOf('@', end - 1) >= schemeEnd) {
                return badRequest("request target '" + abbreviate(uri) + "'");
            }
            authority = uri.substring(schemeEnd, end);
            String rest = uri.substring(end);
            origin = rest.isEmpty() ? "/" : rest.startsWith("/") ? rest : "/" + rest;
        }
        String rawPath = pathOf(origin);
        String path;
        try {
            // Routed and forwarded normalised, so that no spelling of a path sidesteps a path rule.
            path = RequestPath.normalize(rawPath, settings.mergeSlashes(), encodedSlash(settings));
        } catch (RequestPath.Rejected rejected) {
            return badRequest("request path: " + rejected.getMessage());
        }
        boolean normalised = !path.equals(rawPath);
        if (normalised) {
            origin = path + origin.substring(rawPath.length());
        }

        String hostValue = authority != null ? authority : hosts.isEmpty() ? null : hosts.get(0);
        if (hostValue == null && !http10) {
            return badRequest("no Host header");
        }
        String host;
        try {
            host = hostValue == null ? null : routingHost(hostValue);
        } catch (IllegalArgumentException e) {
            return badRequest("Host '" + abbreviate(hostValue) + "'");
        }
        long max = settings.maxRequestBodySize();
        long declared = lengths.isEmpty() ? -1 : HttpUtil.getContentLength(req, -1L);
        if (max > 0 && declared > max) {
            return refuse(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    "a body of " + declared + " bytes is over the limit of " + max);
        }
        return new Valid(path, origin, authority != null || normalised, authority, hostValue, host, declared,
                declared > 0 || !codings.isEmpty());
    }

    /** The {@link RequestPath} mode for the settings' encoded-slash policy. */
    static RequestPath.EncodedSlash encodedSlash(HttpSettings settings) {
        return switch (settings.encodedSlashes()) {
            case REJECT -> RequestPath.EncodedSlash.REJECT;
            case DECODE -> RequestPath.EncodedSlash.DECODE;
            case KEEP -> RequestPath.EncodedSlash.KEEP;
        };
    }

    /**
     * The Host value without its port, lower case, IPv6 literals without brackets.
     *
     * @throws IllegalArgumentException if it is not a host[:port]
     */
    static String routingHost(String value) {
        String v = value.trim();
        if (v.startsWith("[")) {
            int close = v.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException(value);
            }
            String host = v.substring(1, close);
            String rest = v.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw new IllegalArgumentException(value);
            }
            checkPort(value, rest, rest.isEmpty() ? 0 : 1);
            if (!NetUtil.isValidIpV6Address(host)) {
                throw new IllegalArgumentException(value);
            }
            return host.toLowerCase(Locale.ROOT);
        }
        // Scanned in place: the common Host (a lower-case name, with or without a port) costs at
        // most the one substring that drops the port.
        int colon = v.indexOf(':');
        int end = colon < 0 ? v.length() : colon;
        if (end == 0) {
            throw new IllegalArgumentException(value);
        }
        boolean lower = true;
        for (int i = 0; i < end; i++) {
            char c = v.charAt(i);
            boolean upper = c >= 'A' && c <= 'Z';
            boolean ok = upper || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
            if (!ok) {
                throw new IllegalArgumentException(value);
            }
            lower &= !upper;
        }
        if (colon >= 0) {
            checkPort(value, v, colon + 1);
        }
        String host = end == v.length() ? v : v.substring(0, end);
        return lower ? host : host.toLowerCase(Locale.ROOT);
    }

    /** The port in {@code s} from {@code from} on: empty, or at most five digits. */
    private static void checkPort(String value, String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9' || i - from >= 5) {
                throw new IllegalArgumentException(value);
            }
        }
    }

    /** Whether the last of the comma-separated {@code codings} is {@code chunked}, and no other is. */
    static boolean finalChunked(List<String> codings) {
        boolean last = false;
        for (String v : codings) {
            for (String t : v.split(",")) {
                if (last) {
                    return false; // chunked, then something: not final (or chunked twice)
                }
                last = t.trim().equalsIgnoreCase("chunked");
            }
        }
        return last;
    }

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

    /** Whether {@code s} starts with the lower-case ASCII {@code prefix}, ASCII letters in either case. */
    private static boolean startsWithAsciiIgnoreCase(String s, String prefix) {
        if (s.length() < prefix.length()) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            char c = s.charAt(i);
            if ((c >= 'A' && c <= 'Z' ? (char) (c + 32) : c) != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static String pathOf(String origin) {
        int q = origin.indexOf('?');
        int f = origin.indexOf('#');
        int end = q < 0 ? f : f < 0 ? q : Math.min(q, f);
        return end < 0 ? origin : origin.substring(0, end);
    }

    private static Refusal badRequest(String why) {
        return refuse(HttpResponseStatus.BAD_REQUEST, why);
    }

    private static Refusal refuse(HttpResponseStatus status, String why) {
        return new Refusal(status, CloseReason.PROTOCOL_ERROR, why);
    }

    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
