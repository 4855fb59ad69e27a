package dev.smartproxy.metrics;

/**
 * Connections of one {@code ConnectionKind}.
 *
 * @param open   open now
 * @param routed routed with this kind since start
 * @param closed closed since start (those that had been routed with this kind)
 */
public record KindMetrics(long open, long routed, long closed) {
    /** Nothing counted. */
    public static final KindMetrics ZERO = new KindMetrics(0, 0, 0);
}
