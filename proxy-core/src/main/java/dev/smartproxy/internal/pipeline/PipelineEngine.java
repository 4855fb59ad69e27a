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
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
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
    private static final Logger log = LoggerFactory.getLogger(PipelineEngine.class);
    private final EngineConfig config;
    private final ConnectionRegistry registry;
    private final BufferBudget budget;
    private ProxyServer server;
    private ProxyContext px;
    private CertificateStore certificates;
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
        this.certificates = certificates;
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
        if (server == null) {
            throw new IllegalStateException("updateRoutes: not started");
        }
        RouteSnapshot old = px.routing();
        RouteTable oldTable = old.table();
        RouteUpdate update;
        if (oldTable.routes().equals(table.routes()) && binds.equals(newBinds)) {
            update = new RouteUpdate(List.of(), List.of(), List.of(), names(oldTable.routes()), List.of(), List.of(),
                    0, 0, 0, true);
        } else {
            Map<Integer, InetSocketAddress> opening = new LinkedHashMap<>();
            newBinds.forEach((port, address) -> {
                if (!binds.containsKey(port)) {
                    opening.put(port, address);
                }
            });
            List<Integer> closing = new ArrayList<>();
            for (int port : binds.keySet()) {
                if (!newBinds.containsKey(port)) {
                    closing.add(port);
                }
            }
            server.bindPaused(opening); // throws with nothing changed
            px.routing(old.next(table)); // the one write: from here every new connection sees the new table
            binds = Map.copyOf(newBinds);
            server.startAccepting(opening.keySet());
            server.unbind(closing);
            RouteRetirements.Counts counts = RouteRetirements.sweep(px, table);
            update = diff(oldTable, table, opening.keySet(), closing, counts);
        }
        log.info("routes updated: {}", update.summary());
        registry.routesUpdated(update);
        return update;
    }

    private static RouteUpdate diff(RouteTable oldTable, RouteTable table, Collection<Integer> opened,
                                    Collection<Integer> closed, RouteRetirements.Counts counts) {
        Map<String, Route> before = RouteRetirements.byName(oldTable);
        Map<String, Route> after = RouteRetirements.byName(table);
        List<String> added = new ArrayList<>();
        List<String> changed = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();
        for (Route r : table.routes()) {
            Route was = before.get(r.name());
            (was == null ? added : was.sameDefinition(r) ? unchanged : changed).add(r.name());
        }
        List<String> removed = new ArrayList<>();
        for (Route r : oldTable.routes()) {
            if (!after.containsKey(r.name())) {
                removed.add(r.name());
            }
        }
        return new RouteUpdate(added, removed, changed, unchanged, sorted(opened), sorted(closed), counts.kept(),
                counts.draining(), counts.closed(), false);
    }

    private static List<Integer> sorted(Collection<Integer> ports) {
        List<Integer> out = new ArrayList<>(ports);
        out.sort(null);
        return out;
    }

    private static List<String> names(List<Route> routes) {
        List<String> out = new ArrayList<>(routes.size());
        routes.forEach(r -> out.add(r.name()));
        return out;
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
