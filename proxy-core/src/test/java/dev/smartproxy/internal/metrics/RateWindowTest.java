package dev.smartproxy.internal.metrics;

import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The sampler's windows, driven tick by tick (each {@code add} is one second): no clock, no sleep. */
class RateWindowTest {
    @Test
    void noRateBeforeTheFirstTickWhichCountsFromZero() {
        RateWindow w = new RateWindow();
        assertThat(w.rate(10)).isEqualTo(new Rate(10, 0, 0, 0));
        w.add(10); // the first tick: what moved since the window was made
        assertThat(w.rate(10)).isEqualTo(new Rate(10, 10, 10, 10));
    }

    @Test
    void windowsShorterThanTheHistoryAverageOverWhatThereIs() {
        RateWindow w = new RateWindow();
        w.add(100); // from the zero the window starts with
        w.add(300); // +100, +200
        Rate r = w.rate(300);
        assertThat(r.lastSecond()).isEqualTo(200.0);
        assertThat(r.last10Seconds()).isEqualTo(150.0); // 300 over the 2 s there are
        assertThat(r.lastMinute()).isEqualTo(150.0);
    }

    @Test
    void oneTenAndSixtySecondWindows() {
        RateWindow w = new RateWindow();
        long total = 0;
        w.add(total);
        for (int s = 1; s <= 70; s++) {
            total += s <= 60 ? 1000 : 10; // 1000/s for a minute, then 10/s
            w.add(total);
        }
        Rate r = w.rate(total);
        assertThat(r.total()).isEqualTo(60_000 + 100);
        assertThat(r.lastSecond()).isEqualTo(10.0);
        assertThat(r.last10Seconds()).isEqualTo(10.0);
        assertThat(r.lastMinute()).isCloseTo((50 * 1000 + 10 * 10) / 60.0, within(1e-9));
    }

    @Test
    void aStepBackwardsReadsAsZeroNotNegative() {
        RateWindow w = new RateWindow();
        w.add(100);
        w.add(90); // a connection counted in both "open" and "closed" at the previous tick
        assertThat(w.rate(90).lastSecond()).isZero();
    }

    @Test
    void theRecorderSamplesProxyAndRouteTotalsFromClosedAndOpenConnections() {
        MetricsRecorder m = new MetricsRecorder();
        RouteCounters api = m.route("api");
        api.routed();
        m.routed(ConnectionKind.PLAIN);
        // t=0: the windows start from zero when made
        OpenTotals open = m.openTotals();
        open.add(api, 500, 2000); // t=1: one open connection moved 500 in, 2000 out
        m.sample(open);
        api.closed(500, 2000); // it closes...
        m.closed(ConnectionKind.PLAIN, 500, 2000);
        m.sample(m.openTotals()); // t=2: ...and nothing else moved
        OpenTotals none = m.openTotals();
        assertThat(m.bytesIn(none)).isEqualTo(new Rate(500, 0, 250, 250));
        assertThat(m.bytesOut(none)).isEqualTo(new Rate(2000, 0, 1000, 1000));
        RouteMetrics r = m.byRoute(none).get("api");
        assertThat(r.bytesIn().total()).isEqualTo(500);
        assertThat(r.bytesOut().last10Seconds()).isEqualTo(1000);
        assertThat(r.routed()).isEqualTo(1);
        assertThat(r.closed()).isEqualTo(1);
        assertThat(r.open()).isZero();
        assertThat(m.byKind(java.util.Map.of()).get(ConnectionKind.PLAIN).closed()).isEqualTo(1);
    }

    @Test
    void theHistogramCountsEveryRecord() {
        Histogram h = new Histogram();
        h.record(Duration.ofMillis(3).toNanos());
        h.record(Duration.ofMillis(7).toNanos());
        h.record(-5);
        var s = h.snapshot();
        assertThat(s.count()).isEqualTo(3);
        assertThat(s.max()).isEqualTo(Duration.ofMillis(7));
        assertThat(s.total()).isEqualTo(Duration.ofMillis(10));
        assertThat(s.percentile(0.5)).isEqualTo(Duration.ofMillis(5));
    }
}
