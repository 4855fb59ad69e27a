package dev.smartproxy.internal.http;

import io.netty.handler.codec.http.HttpHeaders;

/** Chooses what to do with one HTTP request. Called on the client's event loop; must not block. */
@FunctionalInterface
public interface HttpRouter {
    /**
     * Routes a request.
     *
     * @param host    the Host header (or the authority of an absolute-form request target) without
     *                its port, lower case, IPv6 literals without brackets; null when absent
     * @param path    the path of the request target, without the query; {@code *} for {@code OPTIONS *}
     * @param headers the request headers as the client sent them
     * @return what to do; never null
     */
    HttpRoute route(String host, String path, HttpHeaders headers);

    /**
     * Routes a request, also given its path with the query ({@code pathAndQuery}, as sent in
     * origin form), for routes that rebuild URLs such as redirects. Defaults to
     * {@link #route(String, String, HttpHeaders)}.
     */
    default HttpRoute route(String host, String path, String pathAndQuery, HttpHeaders headers) {
        return route(host, path, headers);
    }
}
