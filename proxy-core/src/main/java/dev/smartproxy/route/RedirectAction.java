package dev.smartproxy.route;

import java.util.Objects;

/**
 * Answer HTTP requests with a redirect. The location is a template: {@code {host}} is the
 * request's host (without port), {@code {path}} its path and query, {@code {port}} the route
 * port. Connections on a route with this action are read as HTTP.
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

    /** The location for a request to {@code host} with {@code pathAndQuery} on route port {@code port}. */
    public String locationFor(String host, String pathAndQuery, int port) {
        return location.replace("{host}", host == null ? "" : host)
                .replace("{path}", pathAndQuery == null || pathAndQuery.isEmpty() ? "/" : pathAndQuery)
                .replace("{port}", Integer.toString(port));
    }
}
