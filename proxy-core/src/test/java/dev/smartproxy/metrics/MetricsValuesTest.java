package dev.smartproxy.metrics;

import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MetricsValuesTest {
    @Test
    void statusClassesByFirstDigitWithConventionalLabels() {
        assertThat(StatusClass.of(100)).isEqualTo(StatusClass.INFORMATIONAL);
        assertThat(StatusClass.of(101).label()).isEqualTo("1xx");
        assertThat(StatusClass.of(204)).isEqualTo(StatusClass.SUCCESS);
        assertThat(StatusClass.of(308)).isEqualTo(StatusClass.REDIRECTION);
        assertThat(StatusClass.of(431).label()).isEqualTo("4xx");
        assertThat(StatusClass.of(599)).isEqualTo(StatusClass.SERVER_ERROR);
        assertThatThrownBy(() -> StatusClass.of(600)).hasMessage("status: 600 (expected: 100..599)");
        assertThatThrownBy(() -> StatusClass.of(99)).hasMessage("status: 99 (expected: 100..599)");
    }

    @Test
    void bucketsAreUpperBoundsWithAnOverflow() {
        assertThat(LatencyHistogram.bucketOf(0)).isZero();
        assertThat(LatencyHistogram.bucketOf(Duration.ofMillis(1).toNanos())).isZero();
        assertThat(LatencyHistogram.bucketOf(Duration.ofMillis(1).toNanos() + 1)).isEqualTo(1);
        assertThat(LatencyHistogram.bucketOf(Duration.ofSeconds(60).toNanos()))
                .isEqualTo(LatencyHistogram.BOUNDS.size() - 1);
        assertThat(LatencyHistogram.bucketOf(Duration.ofMinutes(5).toNanos())).isEqualTo(LatencyHistogram.BOUNDS.size());
    }

    @Test
    void percentilesAreBucketUpperBoundsCappedAtTheMaximum() {
        long[] counts = new long[LatencyHistogram.BOUNDS.size() + 1];
        counts[LatencyHistogram.bucketOf(Duration.ofMillis(3).toNanos())] = 90; // the 5 ms bucket
        counts[LatencyHistogram.bucketOf(Duration.ofMillis(150).toNanos())] = 9; // the 200 ms bucket
        counts[LatencyHistogram.BOUNDS.size()] = 1; // overflow
        LatencyHistogram h = new LatencyHistogram(100, Duration.ofMillis(100 * 20), Duration.ofMinutes(2),
                LatencyHistogram.BOUNDS, counts);
        assertThat(h.percentile(0.5)).isEqualTo(Duration.ofMillis(5));
        assertThat(h.percentile(0.9)).isEqualTo(Duration.ofMillis(5));
        assertThat(h.percentile(0.95)).isEqualTo(Duration.ofMillis(200));
        assertThat(h.percentile(1.0)).isEqualTo(Duration.ofMinutes(2));
        assertThat(h.mean()).isEqualTo(Duration.ofMillis(20));
        assertThat(LatencyHistogram.EMPTY.percentile(0.99)).isEqualTo(Duration.ZERO);
        assertThat(LatencyHistogram.EMPTY.mean()).isEqualTo(Duration.ZERO);
        assertThatThrownBy(() -> h.percentile(1.5)).hasMessage("q: 1.5 (expected: 0..1)");
        long[] copy = h.bucketCounts();
        copy[0] = 1234;
        assertThat(h.bucketCounts()[0]).as("immutable").isZero();
    }

    @Test
    void aSmallMaximumCapsTheBucketBound() {
        long[] counts = new long[LatencyHistogram.BOUNDS.size() + 1];
        counts[LatencyHistogram.bucketOf(Duration.ofMillis(3).toNanos())] = 1;
        LatencyHistogram h = new LatencyHistogram(1, Duration.ofMillis(3), Duration.ofMillis(3),
                LatencyHistogram.BOUNDS, counts);
        assertThat(h.percentile(0.99)).isEqualTo(Duration.ofMillis(3));
    }

    @Test
    void histogramShapeIsChecked() {
        assertThatThrownBy(() -> new LatencyHistogram(0, Duration.ZERO, Duration.ZERO, List.of(Duration.ofMillis(1)),
                new long[1])).hasMessage("bucketCounts: 1 entries (expected: 2, one per bound plus the overflow)");
        assertThatThrownBy(() -> new LatencyHistogram(-1, Duration.ZERO, Duration.ZERO, LatencyHistogram.BOUNDS,
                new long[LatencyHistogram.BOUNDS.size() + 1])).hasMessage("count: -1 (expected: >= 0)");
    }

    @Test
    void ratesAreNeverNegative() {
        assertThatThrownBy(() -> new Rate(-1, 0, 0, 0)).hasMessageContaining("expected: no negative value");
        assertThatThrownBy(() -> new Rate(0, -1, 0, 0)).hasMessageContaining("expected: no negative value");
    }

    @Test
    void emptyMetricsHaveEveryKindAtZero() {
        ProxyMetrics m = ProxyMetrics.empty(Instant.EPOCH);
        assertThat(m.byKind()).containsOnlyKeys(ConnectionKind.values());
        assertThat(m.kind(ConnectionKind.TERMINATED)).isEqualTo(KindMetrics.ZERO);
        assertThat(m.bytesIn()).isEqualTo(Rate.ZERO);
        assertThat(m.closedTotal()).isZero();
        assertThat(m.topClients()).isEmpty();
    }
}
