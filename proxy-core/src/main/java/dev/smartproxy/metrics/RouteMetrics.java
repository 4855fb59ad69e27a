package dev.smartproxy.metrics;

/**
 * Connections and bytes of one route. For HTTP connections, the route is the one the connection
 * was routed with at accept or ClientHello time (an exchange's own route is in
 * {@link HttpMetrics}).
 *
 * @param route    the route's name
 * @param open     connections open now
 * @param routed   connections routed to it since start
 * @param closed   of those, closed
 * @param bytesIn  bytes received from the clients of these connections
 * @param bytesOut bytes sent to them
 */
public record RouteMetrics(String route, long open, long routed, long closed, Rate bytesIn, Rate bytesOut) {
}
