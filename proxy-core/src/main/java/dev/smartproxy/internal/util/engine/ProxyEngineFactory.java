package dev.smartproxy.internal.util.engine;

/** Makes the runtime of a proxy; implemented in {@code internal.pipeline}, found by {@code ServiceLoader}. */
public interface ProxyEngineFactory {
    /** A new engine, not started. */
    ProxyEngine create(EngineConfig config);
}
