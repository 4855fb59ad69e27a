package dev.smartproxy.micrometer;

import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.ProxyMetrics;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A proxy's metrics as a test scripts them, no proxy: {@link #next} is the snapshot the binder
 * reads next, {@link #listeners} the listeners it has added and not removed.
 */
final class ScriptedSource implements SmartProxyMetrics.Source {
    final AtomicReference<ProxyMetrics> next = new AtomicReference<>(ProxyMetrics.empty(Instant.EPOCH));
    final List<ProxyEventListener> listeners = new CopyOnWriteArrayList<>();

    @Override
    public ProxyMetrics metrics() {
        return next.get();
    }

    @Override
    public void addListener(ProxyEventListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(ProxyEventListener listener) {
        listeners.remove(listener);
    }
}
