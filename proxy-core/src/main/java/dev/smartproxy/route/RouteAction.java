package dev.smartproxy.route;

/**
 * What a route does with a connection (or, for HTTP, a request) it matched: forward it
 * ({@link ForwardAction}), redirect it ({@link RedirectAction}), refuse it ({@link BlockAction}),
 * or hand it to your code ({@link HandlerAction}).
 */
public sealed interface RouteAction permits ForwardAction, RedirectAction, BlockAction, HandlerAction {
}
