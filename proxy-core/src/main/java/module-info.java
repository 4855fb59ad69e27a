/**
 * SmartProxy for Java: an embeddable, route-based TCP/TLS proxy on Netty.
 *
 * <p>Public API: {@code dev.smartproxy} (the facade), {@code dev.smartproxy.route} (routes,
 * actions and the route table), {@code dev.smartproxy.config} (timeouts, keepalive, TLS
 * certificates, backend TLS, HTTP and WebSocket settings) and {@code dev.smartproxy.event}
 * (connection snapshots, close reasons, listeners).
 */
module dev.smartproxy {
    requires io.netty.common;
    requires io.netty.buffer;
    requires io.netty.resolver;
    // Netty types appear in public signatures (SslContext in CertificateSource, ChannelHandler in
    // ConnectionHandlerFactory), so users who read this module read these too.
    requires transitive io.netty.transport;
    requires transitive io.netty.handler;
    requires io.netty.codec;
    requires io.netty.codec.http;
    requires io.netty.codec.haproxy;
    requires io.netty.transport.classes.epoll;
    requires io.netty.transport.unix.common;
    requires jdk.net;
    requires org.slf4j;

    // The facade reaches its runtime through internal.util.engine only (DESIGN.md's dependency
    // rule); the runtime in internal.pipeline provides it.
    uses dev.smartproxy.internal.util.engine.ProxyEngineFactory;
    provides dev.smartproxy.internal.util.engine.ProxyEngineFactory
            with dev.smartproxy.internal.pipeline.PipelineEngine.Factory;

    exports dev.smartproxy;
    exports dev.smartproxy.config;
    exports dev.smartproxy.event;
    exports dev.smartproxy.metrics;
    exports dev.smartproxy.route;
}
