package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.util.engine.EngineConfig;
import dev.smartproxy.internal.util.engine.ProxyEngine;
import dev.smartproxy.internal.util.engine.ProxyEngineFactory;

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
    /** The metrics sampler's schedule (once a second on the accept loop), while started. */
    private io.netty.util.concurrent.ScheduledFuture<?> sampling;

    private PipelineEngine(EngineConfig config) {
        this.config = config;
        this.registry = new ConnectionRegistry(config.listeners(), Clock.systemUTC(), Ticker.SYSTEM);
        this.budget = new BufferBudget(config.policy().bufferBudget());
    }

    @Override
    public void start() {
        CertificateStore certificates = CertificateStore.of(config.certificates(), config.defaultCertificate());
        ProxyContext px = new ProxyContext(config.routes(), config.policy(), registry, Transport.of(config.transport()),
                certificates, config.http(), config.webSocket(), budget,
                new AdmissionControl(config.ipRules(), config.admission(), Ticker.SYSTEM::nanoTime))
                .acceptProxyProtocol(config.proxyProtocol());
        server = ProxyServer.start(px, config.ioThreads(), config.binds());
        sampling = server.every(Duration.ofSeconds(1), registry.telemetry()::sample);
    }

    @Override
    public void shutdown(Duration grace) {
        if (sampling != null) {
            sampling.cancel(false);
        }
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

    @Override
    public ProxyMetrics metrics() {
        return registry.telemetry().snapshot(java.time.Instant.now(), budget.used());
    }

    @Override
    public void addListener(ProxyEventListener listener) {
        registry.addListener(listener);
    }

    @Override
    public boolean removeListener(ProxyEventListener listener) {
        return registry.removeListener(listener);
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
