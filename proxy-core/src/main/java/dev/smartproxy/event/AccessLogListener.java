package dev.smartproxy.event;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * An access log: one line per HTTP exchange ({@link ProxyEventListener#onHttpExchange}), logged at
 * INFO through SLF4J on the logger {@value #LOGGER_NAME}, so the application's logging setup
 * decides where it goes. The line, close to the combined log format plus the proxy's fields:
 * <pre>
 * client "METHOD host path protocol" status requestBytes responseBytes route=R backend=B ttfb_ms=T total_ms=D conn=ID
 * 203.0.113.7 "GET example.com /api/x HTTP/1.1" 200 512 1834 route=api backend=10.0.0.5:8080 ttfb_ms=3 total_ms=4 conn=42
 * </pre>
 * <ul>
 *   <li>{@code client}: the client IP (after a trusted PROXY protocol header);</li>
 *   <li>{@code requestBytes}, {@code responseBytes}: body bytes received from and sent to the client;</li>
 *   <li>{@code status}: 0 when the exchange was aborted before a response head was sent;</li>
 *   <li>{@code -} stands for an absent value: no route (the proxy answered itself), no backend
 *       reached, no response head ({@code ttfb_ms}), an empty method, host or path;</li>
 *   <li>times are whole milliseconds, rounded down.</li>
 * </ul>
 * The method, host, path and route are escaped, so that a client cannot forge a line or a field:
 * {@code "} and {@code \} are written {@code \"} and {@code \\}, and every character outside the
 * printable ASCII range {@code !}..{@code ~} (spaces, control characters such as CR and LF, DEL,
 * non-ASCII) is written {@code \xHH} (or {@code \\uHHHH} above U+00FF). Each field of the line is
 * therefore free of spaces and quotes, and the line is one line.
 *
 * <pre>{@code
 * SmartProxy.builder().listener(new AccessLogListener())...
 * }</pre>
 */
public final class AccessLogListener implements ProxyEventListener {
    /** The SLF4J logger name of the access log. */
    public static final String LOGGER_NAME = "dev.smartproxy.access";

    private final Logger log;

    /** Logs to {@value #LOGGER_NAME}. */
    public AccessLogListener() {
        this(LoggerFactory.getLogger(LOGGER_NAME));
    }

    /** Logs to {@code logger} instead (at INFO). */
    public AccessLogListener(Logger logger) {
        this.log = java.util.Objects.requireNonNull(logger, "logger");
    }

    @Override
    public void onHttpExchange(HttpExchange exchange) {
        if (log.isInfoEnabled()) {
            log.info(format(exchange));
        }
    }

    /** The access-log line of {@code exchange}, as documented on this class. */
    public static String format(HttpExchange e) {
        StringBuilder b = new StringBuilder(160);
        InetSocketAddress client = e.client();
        b.append(client == null ? "-" : client.getAddress() != null ? client.getAddress().getHostAddress()
                : escapeTo(new StringBuilder(), client.getHostString()));
        b.append(" \"");
        field(b, e.method()).append(' ');
        field(b, e.host()).append(' ');
        field(b, e.path()).append(' ');
        field(b, e.protocol()).append("\" ");
        b.append(e.status()).append(' ').append(e.requestBytes()).append(' ').append(e.responseBytes());
        b.append(" route=");
        field(b, e.route());
        b.append(" backend=");
        InetSocketAddress backend = e.backend();
        if (backend == null) {
            b.append('-');
        } else {
            String host = backend.getAddress() != null ? backend.getAddress().getHostAddress() : backend.getHostString();
            if (host.indexOf(':') >= 0) {
                b.append('[').append(host).append(']');
            } else {
                escapeTo(b, host);
            }
            b.append(':').append(backend.getPort());
        }
        b.append(" ttfb_ms=");
        millis(b, e.timeToFirstByte());
        b.append(" total_ms=");
        millis(b, e.duration());
        b.append(" conn=").append(e.connectionId());
        return b.toString();
    }

    private static void millis(StringBuilder b, Duration d) {
        if (d == null) {
            b.append('-');
        } else {
            b.append(d.toMillis());
        }
    }

    private static StringBuilder field(StringBuilder b, String s) {
        if (s == null || s.isEmpty()) {
            return b.append('-');
        }
        escapeTo(b, s);
        return b;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static StringBuilder escapeTo(StringBuilder b, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c >= '!' && c <= '~') {
                b.append(c);
            } else if (c <= 0xff) {
                b.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            } else {
                b.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf]).append(HEX[(c >> 4) & 0xf])
                        .append(HEX[c & 0xf]);
            }
        }
        return b;
    }
}
