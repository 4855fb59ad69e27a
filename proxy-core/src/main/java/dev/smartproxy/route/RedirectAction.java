package dev.smartproxy.route;

import java.util.Objects;

/**
 * Answer HTTP requests with a redirect. The location is a template with three placeholders,
 * each expanded once, where the template has it (text the client sent is never expanded):
 * <ul>
 *   <li>{@code {host}}: the request's host without its port; an IPv6 literal in brackets. With
 *       no {@code Host} (HTTP/1.0), the SNI name of a TLS connection; with neither, the proxy
 *       answers {@code 400} instead of redirecting to an empty host;</li>
 *   <li>{@code {path}}: the request's path and query as sent ({@code /} if empty);</li>
 *   <li>{@code {port}}: the route port the connection arrived on.</li>
 * </ul>
 * Any other text, braces included, is kept as written.
 *
 * <p>A redirect acts on each HTTP request, in plain HTTP and over TLS alike: a TLS connection
 * whose route is a redirect is terminated with the certificate chosen for its SNI (none: the
 * handshake fails, reason {@code TLS_HANDSHAKE_FAILED}), and each request on it is routed on
 * its own (see {@link RouteTable}).
 * <pre>{@code
 * Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308);
 * Route.named("moved").match(m -> m.ports(80).domains("old.example.com"))
 *     .redirect(301, "https://new.example.com{path}");
 * }</pre>
 *
 * @param status   301, 302, 303, 307 or 308
 * @param location the location template
 */
public record RedirectAction(int status, String location) implements RouteAction {
    private static final String HOST = "{host}";
    private static final String PATH = "{path}";
    private static final String PORT = "{port}";

    /** Validates the status and template. */
    public RedirectAction {
        if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
            throw new IllegalArgumentException("redirect status: " + status + " (expected: 301, 302, 303, 307 or 308)");
        }
        Objects.requireNonNull(location, "redirect location");
        if (location.isBlank()) {
            throw new IllegalArgumentException("redirect location: '' (expected: a URL template such as "
                    + "https://{host}{path})");
        }
    }

    /** Whether the template has {@code {host}}, so a request needs a host to be redirected. */
    public boolean usesHost() {
        return location.contains(HOST);
    }

    /**
     * The location for a request to {@code host} with {@code pathAndQuery} on route port
     * {@code port}. Single pass: a placeholder inside {@code host} or {@code pathAndQuery} stays
     * as it is. An IPv6 literal host ({@code ::1}, with or without brackets) is written in brackets.
     *
     * @param host         the request's host without port, or null when it has none
     * @param pathAndQuery the path and query as sent; null or empty means {@code /}
     * @param port         the route port
     * @throws IllegalArgumentException if the template has {@code {host}} and {@code host} is
     *         null or empty (answer such a request {@code 400}, see {@link #usesHost()})
     */
    public String locationFor(String host, String pathAndQuery, int port) {
        boolean noHost = host == null || host.isEmpty();
        if (noHost && usesHost()) {
            throw new IllegalArgumentException("host: none (expected: a host for the {host} in '" + location + "')");
        }
        String hostText = noHost ? "" : host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        String pathText = pathAndQuery == null || pathAndQuery.isEmpty() ? "/" : pathAndQuery;
        StringBuilder out = new StringBuilder(location.length() + pathText.length() + hostText.length());
        int i = 0;
        while (i < location.length()) {
            if (location.startsWith(HOST, i)) {
                out.append(hostText);
                i += HOST.length();
            } else if (location.startsWith(PATH, i)) {
                out.append(pathText);
                i += PATH.length();
            } else if (location.startsWith(PORT, i)) {
                out.append(port);
                i += PORT.length();
            } else {
                out.append(location.charAt(i++));
            }
        }
        return out.toString();
    }
}
