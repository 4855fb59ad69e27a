/**
 * What a running proxy has done, read at one moment: {@link dev.smartproxy.metrics.ProxyMetrics}
 * from {@code SmartProxy.metrics()}. Immutable values only; the proxy counts on its I/O threads
 * with plain increments and builds a snapshot on the caller's thread when asked.
 *
 * <p>Sits beside {@code dev.smartproxy.event}: it may use {@code config} and {@code event}, and
 * nothing above them.
 */
package dev.smartproxy.metrics;
