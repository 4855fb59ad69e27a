package dev.smartproxy.route;

/**
 * Refuse what the route matches.
 *
 * <ul>
 *   <li>Without path or header conditions, the block acts on the connection: a TCP or TLS
 *       connection it wins is closed at once, before anything is read or forwarded, with reason
 *       {@code BLOCKED}; an HTTP request routed to it (on a connection another route took) is
 *       answered {@code 403 Forbidden}.</li>
 *   <li>With {@link RouteMatch.Builder#paths paths} or {@link RouteMatch.Builder#header headers},
 *       it acts on each request: a TLS connection it wins is terminated with the certificate
 *       chosen for its SNI, every request on it is routed on its own, and only the requests that
 *       meet the conditions get {@code 403}; the others go to the route that takes them (see
 *       {@link RouteTable}). Plain HTTP is treated the same way.</li>
 * </ul>
 * After a {@code 403} the connection stays open for the client's next request.
 * <pre>{@code
 * Route.named("no-admin").priority(100).match(m -> m.ports(443).domains("admin.example.com")).block();
 * Route.named("no-admin-paths").priority(100).match(m -> m.ports(443).domains("example.com").paths("/admin/")).block();
 * }</pre>
 */
public record BlockAction() implements RouteAction {
}
