package dev.smartproxy.route;

/**
 * Refuse what the route matches: a TCP or TLS connection is closed at once, with reason
 * {@code BLOCKED}; an HTTP request on a connection the proxy terminates is answered
 * {@code 403 Forbidden}, and the connection stays open for the client's next request.
 * <pre>{@code
 * Route.named("no-admin").priority(100).match(m -> m.ports(443).domains("admin.example.com")).block();
 * }</pre>
 */
public record BlockAction() implements RouteAction {
}
