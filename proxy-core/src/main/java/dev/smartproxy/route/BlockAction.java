package dev.smartproxy.route;

/**
 * Refuse what the route matches: a TCP or TLS connection is closed at once; an HTTP request
 * is answered {@code 403 Forbidden} and its connection closed. The close reason is
 * {@code BLOCKED}.
 * <pre>{@code
 * Route.named("no-admin").priority(100).match(m -> m.ports(443).domains("admin.example.com")).block();
 * }</pre>
 */
public record BlockAction() implements RouteAction {
}
