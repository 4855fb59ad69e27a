/**
 * Micrometer binding for SmartProxy: {@link dev.smartproxy.micrometer.SmartProxyMetrics} binds a
 * proxy's metrics snapshot and its HTTP exchange events to a {@code MeterRegistry}.
 */
package dev.smartproxy.micrometer;
