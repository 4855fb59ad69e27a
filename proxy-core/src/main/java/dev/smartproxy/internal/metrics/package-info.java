/**
 * The proxy's metric counters: increment-only objects the hot path holds on to (resolved once per
 * connection or exchange), a latency histogram, and the rolling windows the sampler fills once a
 * second. Imports no other internal package; {@code internal.connection.Telemetry} ties them to
 * the registry and builds {@code ProxyMetrics} snapshots.
 */
package dev.smartproxy.internal.metrics;
