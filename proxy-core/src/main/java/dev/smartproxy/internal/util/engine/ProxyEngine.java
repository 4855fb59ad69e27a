package dev.smartproxy.internal.util.engine;

import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.metrics.ProxyMetrics;

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

    /** A metrics snapshot, built on the caller's thread; zeros before {@link #start()}. */
    ProxyMetrics metrics();

    /** Adds an event listener for the events from now on. */
    void addListener(ProxyEventListener listener);

    /** Removes a listener added with {@link #addListener} or the builder; returns whether it was there. */
    boolean removeListener(ProxyEventListener listener);

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
