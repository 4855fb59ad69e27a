package dev.smartproxy.event;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;

/**
 * One HTTP exchange (a request and its response) on a connection the proxy reads, reported once
 * when its response ends, or when it fails.
 *
 * @param connectionId    the client connection's id
 * @param client          the client's address (after a trusted PROXY protocol header)
 * @param route           the route that took the request; null when the proxy answered without one
 *                        (404 no route, 400, 431 ...)
 * @param backend         the backend address the request went to; null when none was reached
 * @param method          the request method, as sent
 * @param host            the request's host (Host header or absolute URI), as sent; {@code ""} if none
 * @param path            the request target as sent (path and query)
 * @param protocol        {@code "HTTP/1.1"} or {@code "HTTP/1.0"}
 * @param status          the status sent to the client: the backend's, or the one the proxy answered
 *                        (502 when the backend failed, 504 when it timed out, 4xx for refused
 *                        requests); 0 when the exchange was aborted before any response head was sent
 * @param requestBytes    request body bytes received from the client (head not counted)
 * @param responseBytes   response body bytes sent to the client (head not counted)
 * @param startedAt       when the request head arrived
 * @param timeToFirstByte from {@code startedAt} to the response head (null if none was sent)
 * @param duration        from {@code startedAt} to the end of the response, or to the failure
 * @param answeredByProxy whether the proxy answered itself (no route, a refusal, a 502/504, a
 *                        redirect or block) rather than relaying a backend's response
 */
public record HttpExchange(long connectionId, InetSocketAddress client, String route, InetSocketAddress backend,
                           String method, String host, String path, String protocol, int status, long requestBytes,
                           long responseBytes, Instant startedAt, Duration timeToFirstByte, Duration duration,
                           boolean answeredByProxy) {
}
