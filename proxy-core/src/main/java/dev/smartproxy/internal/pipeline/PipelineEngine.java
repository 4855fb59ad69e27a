package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.util.engine.EngineConfig;
import dev.smartproxy.internal.util.engine.ProxyEngine;
import dev.smartproxy.internal.util.engine.ProxyEngineFactory;

import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.RouteTable;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The runtime of one proxy: its registry and buffer budget from the moment it is built, and on
 * {@link #start()} the certificates, the context every connection shares and the listeners.
 * The facade serialises calls (its methods are synchronized).
 */
public final class PipelineEngine implements ProxyEngine {
    private final EngineConfig config;
    private final ConnectionRegistry registry;
    private final BufferBudget budget;
    private ProxyServer server;
    private ProxyContext px;
    private RouteUpdater updater;
    /** Route port to the address its listener was asked to bind; replaced by live updates. */
    private volatile Map<Integer, InetSocketAddress> binds;

    private PipelineEngine(EngineConfig config) {
        this.config = config;
        this.registry = new ConnectionRegistry(config.listeners(), Clock.systemUTC(), Ticker.SYSTEM);
        this.budget = new BufferBudget(config.policy().bufferBudget());
        this.binds = config.binds();
    }

    @Override
    public void start() {
        CertificateStore certificates = CertificateStore.of(config.certificates(), config.defaultCertificate());
        ProxyContext px = new ProxyContext(config.routes(), config.policy(), registry, Transport.of(config.transport()),
                certificates, config.http(), config.webSocket(), budget,
                new AdmissionControl(config.ipRules(), config.admission(), Ticker.SYSTEM::nanoTime))
                .acceptProxyProtocol(config.proxyProtocol());
        server = ProxyServer.start(px, config.ioThreads(), config.binds());
        this.px = px;
        this.updater = new RouteUpdater(px, server, config.binds());
    }

    @Override
    public RouteTable routes() {
        ProxyContext p = px;
        return p != null ? p.routes() : config.routes();
    }

    @Override
    public Map<Integer, InetSocketAddress> listenAddresses() {
        return binds;
    }

    @Override
    public boolean hasCertificates() {
        CertificateStore c = px != null ? px.certificates() : null;
        return c != null ? c.hasAny() : !config.certificates().isEmpty() || config.defaultCertificate() != null;
    }

    @Override
    public RouteUpdate updateRoutes(RouteTable table, Map<Integer, InetSocketAddress> newBinds) {
        if (updater == null) {
            throw new IllegalStateException("updateRoutes: not started");
        }
        RouteUpdate update = updater.apply(table, newBinds);
        binds = updater.binds();
        return update;
    }

    /** The server, for tests in this package (listener identity); null before start. */
    ProxyServer server() {
        return server;
    }

    @Override
    public void shutdown(Duration grace) {
        if (server != null) {
            server.shutdown(grace);
        }
    }

    @Override
    public Map<Integer, InetSocketAddress> boundAddresses() {
        return server.boundAddresses();
    }

    @Override
    public List<ConnectionInfo> connections() {
        return registry.snapshot();
    }

    @Override
    public ProxyStats stats() {
        return registry.stats();
    }

    @Override
    public long bufferedBytes() {
        return budget.used();
    }

    /** The provider {@code ServiceLoader} finds. */
    public static final class Factory implements ProxyEngineFactory {
        /** For {@code ServiceLoader}. */
        public Factory() {
        }

        @Override
        public ProxyEngine create(EngineConfig config) {
            return new PipelineEngine(config);
        }
    }
}
