package dev.smartproxy.metrics;

import java.util.Map;

/**
 * HTTP exchanges of one route (on connections the proxy reads: terminated or plain HTTP).
 * Requests the proxy answered without a route (404 for no route, 400, 431 ...) are under
 * {@link #NO_ROUTE}.
 *
 * @param route     the route's name, or {@link #NO_ROUTE}
 * @param responses exchanges by the class of the status sent to the client (every class present,
 *                  0 when none); an exchange aborted before any response is not counted here
 * @param latency   from the request head's arrival to the end of the response, for the exchanges
 *                  that got a response
 */
public record HttpMetrics(String route, Map<StatusClass, Long> responses, LatencyHistogram latency) {
    /** The route name under which the exchanges that no route took are counted: {@code ""}. */
    public static final String NO_ROUTE = "";

    /** Copies the map. */
    public HttpMetrics {
        responses = Map.copyOf(responses);
    }

    /** Responses of {@code statusClass}. */
    public long responses(StatusClass statusClass) {
        return responses.getOrDefault(statusClass, 0L);
    }

    /** All responses. */
    public long total() {
        return responses.values().stream().mapToLong(Long::longValue).sum();
    }
}
