package dev.smartproxy.route;

/**
 * What a route does with a connection it matched.
 *
 * <p>Today the only action is {@link ForwardAction}; redirects, blocks and user handlers are
 * planned as further permitted subtypes.
 */
public sealed interface RouteAction permits ForwardAction {
}
