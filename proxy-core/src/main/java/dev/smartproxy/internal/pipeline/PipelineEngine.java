package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.tls.CertificateWatcher;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.util.engine.EngineConfig;
import dev.smartproxy.internal.util.engine.ProxyEngine;
import dev.smartproxy.internal.util.engine.ProxyEngineFactory;

import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.RouteTable;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runtime of one proxy: its registry and buffer budget from the moment it is built, and on
 * {@link #start()} the certificates, the context every connection shares and the listeners.
 * The facade serialises calls (its methods are synchronized); certificate updates, the facade's
 * and the file watcher's, are serialised by a lock of their own and swap the store in
 * {@link ProxyContext} in one write.
 */
public final class PipelineEngine implements ProxyEngine {
    private static final Logger log = LoggerFactory.getLogger(PipelineEngine.class);
    /**
     * A certificate expiring within this many days, or within the last third of its lifetime if
     * that is shorter (short-lived certificates, renewed often, are not noise), is logged (WARN) when loaded.
     */
    static final long EXPIRY_WARNING_DAYS = 14;

    private final EngineConfig config;
    private final ConnectionRegistry registry;
    private final BufferBudget budget;
    private ProxyServer server;
    /** Serialises certificate updates: {@link #updateCertificates} and the watcher's polls. */
    private final Object certificateLock = new Object();
    /** Guarded by {@link #certificateLock}: the store an update made before start, for start to use. */
    private CertificateStore pendingCertificates;
    /** Set by start; its certificates are swapped under {@link #certificateLock}. */
    private volatile ProxyContext px;
    /** Set by start, cleared by shutdown; read under {@link #certificateLock} by updates. */
    private volatile CertificateWatcher watcher;
    /** The metrics sampler (once a second, on a thread of its own), while started. */
    private dev.smartproxy.internal.metrics.Sampler sampling;
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
        CertificateStore certificates;
        synchronized (certificateLock) {
            certificates = pendingCertificates;
        }
        if (certificates == null) {
            certificates = CertificateStore.of(config.certificates(), config.defaultCertificate());
            warnExpiring(certificates, null);
        }
        ProxyContext px = new ProxyContext(config.routes(), config.policy(), registry, Transport.of(config.transport()),
                certificates, config.http(), config.webSocket(), budget,
                new AdmissionControl(config.ipRules(), config.admission(), Ticker.SYSTEM::nanoTime))
                .acceptProxyProtocol(config.proxyProtocol());
        server = ProxyServer.start(px, config.ioThreads(), config.binds());
        sampling = new dev.smartproxy.internal.metrics.Sampler(Duration.ofSeconds(1), registry.telemetry()::sample);
        synchronized (certificateLock) {
            this.px = px;
            pendingCertificates = null;
        }
        this.updater = new RouteUpdater(px, server, config.binds());
        if (!config.watchCertificates().isZero()) {
            watcher = new CertificateWatcher(config.watchCertificates(), certificateLock, new CertificateWatcher.Target() {
                @Override
                public CertificateStore current() {
                    return currentCertificates();
                }

                @Override
                public void apply(CertificateStore next, String cause) {
                    applyCertificates(next, cause);
                }
            });
            watcher.start();
        }
    }

    @Override
    public void updateCertificates(List<CertificateSource> certificates, CertificateSource defaultCertificate) {
        synchronized (certificateLock) {
            CertificateStore current = currentCertificates();
            CertificateWatcher w = watcher;
            // Read before the store loads them: a file changed during the load is reloaded by the next poll.
            Map<List<java.nio.file.Path>, String> hashes = w == null ? null
                    : CertificateWatcher.hashes(certificates, defaultCertificate);
            CertificateStore next = CertificateStore.of(certificates, defaultCertificate,
                    current == null ? Map.of() : current.contexts());
            applyCertificates(next, "updateCertificates");
            if (w != null) {
                w.applied(hashes);
            }
        }
    }

    @Override
    public List<CertificateInfo> certificates() {
        CertificateStore current;
        synchronized (certificateLock) {
            current = currentCertificates();
        }
        if (current != null) {
            return current.infos();
        }
        return CertificateStore.infos(config.certificates(), config.defaultCertificate());
    }

    /** The store in use, or the one start will use; null before start without an update. */
    private CertificateStore currentCertificates() {
        ProxyContext p = px;
        return p != null ? p.certificates() : pendingCertificates;
    }

    /** Puts {@code next} in use (or keeps it for start), with one INFO line; hold {@link #certificateLock}. */
    private void applyCertificates(CertificateStore next, String cause) {
        CertificateStore previous = currentCertificates();
        ProxyContext p = px;
        if (p != null) {
            p.replaceCertificates(next);
        } else {
            pendingCertificates = next;
        }
        List<CertificateInfo> infos = next.infos();
        log.info("certificates updated ({}{}): {} certificate(s){}, serials {}{}", cause, p == null ? ", before start" : "",
                next.sources().size(), next.defaultSource() == null ? ", no default" : ", a default",
                infos.stream().map(i -> i.serial().isEmpty() ? i.source() : i.serial()).toList(),
                previous == null ? "" : " (before: " + previous.infos().stream()
                        .map(i -> i.serial().isEmpty() ? i.source() : i.serial()).toList() + ")");
        warnExpiring(next, previous);
    }

    /**
     * One WARN line per certificate new in {@code next} (not in {@code previous}) that expires within
     * 14 days, or within the last third of its lifetime when that is shorter.
     */
    private static void warnExpiring(CertificateStore next, CertificateStore previous) {
        Clock clock = Clock.systemUTC();
        List<CertificateInfo> before = previous == null ? List.of() : previous.infos();
        for (CertificateInfo i : next.infos()) {
            long days = i.daysLeft(clock);
            boolean known = before.stream().anyMatch(b -> b.source().equals(i.source()) && b.serial().equals(i.serial()));
            // An expired one was logged when its files were read (KeyMaterial).
            long warnDays = EXPIRY_WARNING_DAYS;
            if (!i.notBefore().equals(Instant.MIN) && !i.notAfter().equals(Instant.MAX)) {
                warnDays = Math.min(warnDays, Duration.between(i.notBefore(), i.notAfter()).toDays() / 3);
            }
            if (!known && days < warnDays && i.isValid(clock)) {
                log.warn("{} (serial {}, {}) expires in {} day(s), at {}", i.source(), i.serial(), i.domains(), days,
                        i.notAfter());
            }
        }
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
        CertificateStore c;
        synchronized (certificateLock) {
            c = currentCertificates();
        }
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

    /** The metrics sampler, for tests in this package; null before start and after shutdown. */
    dev.smartproxy.internal.metrics.Sampler sampler() {
        return sampling;
    }

    /** The server, for tests in this package (listener identity); null before start. */
    ProxyServer server() {
        return server;
    }

    @Override
    public void shutdown(Duration grace) {
        if (sampling != null) {
            sampling.close();
            sampling = null;
        }
        if (watcher != null) {
            watcher.close();
            watcher = null;
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
