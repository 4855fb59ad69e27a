package dev.smartproxy.internal.util.engine;

import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.route.RouteTable;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The runtime behind the {@code SmartProxy} facade, reached through this interface only, so that
 * the public packages import from {@code internal} nothing but {@code internal.util} (DESIGN.md's
 * dependency rule). The implementation lives in {@code internal.pipeline} and is provided with
 * {@code ServiceLoader} (declared in {@code module-info.java}, and in {@code META-INF/services}
 * for the class path). Made when the facade is built; its registry counts from then on.
 */
public interface ProxyEngine {
    /** Builds the certificates' contexts and binds every listener; nothing stays bound if it fails. */
    void start();

    /** Stops accepting, drains for up to {@code grace}, closes the rest; returns when all is gone. */
    void shutdown(Duration grace);

    /** Route port to bound address; only after {@link #start()}. */
    Map<Integer, InetSocketAddress> boundAddresses();

    /** Snapshots of the open connections, oldest first. */
    List<ConnectionInfo> connections();

    /** The counters. */
    ProxyStats stats();

    /** Bytes held for clients, as counted against the buffer budget. */
    long bufferedBytes();

    /**
     * Replaces every certificate at once: each is read and checked and its TLS context built
     * before anything changes; new handshakes get the new set, handshakes under way finish with
     * the old one. Before {@link #start()}, replaces what start will use.
     *
     * @throws IllegalArgumentException naming the certificate that cannot be used; nothing changed then
     */
    void updateCertificates(List<CertificateSource> certificates, CertificateSource defaultCertificate);

    /** The certificates in use (before {@link #start()}: those it will use, their files read now). */
    List<CertificateInfo> certificates();

    /** A metrics snapshot, built on the caller's thread; zeros before {@link #start()}. */
    ProxyMetrics metrics();

    /** Adds an event listener for the events from now on. */
    void addListener(ProxyEventListener listener);

    /** Removes a listener added with {@link #addListener} or the builder; returns whether it was there. */
    boolean removeListener(ProxyEventListener listener);

    /** The route table in force: the built one until a live update replaces it. */
    RouteTable routes();

    /** Route port to the address its listener was asked to bind (before or after start). */
    Map<Integer, InetSocketAddress> listenAddresses();

    /**
     * Whether the proxy has a certificate (or a default one) to terminate TLS with NOW: route
     * validation at update time reads the certificates in force, not the built ones.
     */
    boolean hasCertificates();

    /**
     * Applies a validated route table (only after {@link #start()}): binds the listeners of new
     * ports (not yet accepting), puts the table in force in one write, lets the new listeners
     * accept, closes the listeners of ports no route uses, starts the retirement of connections
     * of removed or changed routes, then logs one line and tells the listeners. An update equal
     * to the table and listen addresses in force does nothing but report.
     *
     * @param binds route port to listen address, for every port of {@code table}; ports kept map
     *              to the address they have
     * @throws java.io.UncheckedIOException if a new port cannot be bound; nothing changed then
     */
    RouteUpdate updateRoutes(RouteTable table, Map<Integer, InetSocketAddress> binds);

    /** A new engine, not started, for {@code config}. */
    static ProxyEngine create(EngineConfig config) {
        return Provider.FACTORY.create(config);
    }

    /** Looks the factory up once. */
    final class Provider {
        static final ProxyEngineFactory FACTORY = ServiceLoader.load(ProxyEngineFactory.class,
                        ProxyEngineFactory.class.getClassLoader()).findFirst()
                .orElseThrow(() -> new IllegalStateException("no ProxyEngineFactory (expected: the one in "
                        + "dev.smartproxy.internal.pipeline, provided by module-info and META-INF/services)"));

        private Provider() {
        }
    }
}
