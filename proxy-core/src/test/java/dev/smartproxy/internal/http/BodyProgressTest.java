package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link BodyProgress}: the request-body timeout and minimum rate on made-up nanos; no clock, no channel. */
class BodyProgressTest {
    private static final long S = 1_000_000_000L;

    @Test
    void withNeitherLimitNothingIsWatched() {
        BodyProgress p = new BodyProgress(HttpSettings.builder().requestBodyTimeout(Duration.ZERO)
                .minRequestBodyRate(0, Duration.ofSeconds(5)).build());
        assertThat(p.start(0)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void theTimeoutCountsFromTheLastByte() {
        BodyProgress p = new BodyProgress(HttpSettings.builder().requestBodyTimeout(Duration.ofSeconds(10))
                .minRequestBodyRate(0, Duration.ofSeconds(5)).build());
        assertThat(p.start(100 * S)).isEqualTo(10 * S);
        p.moved(104 * S);
        assertThat(p.check(110 * S, 1)).isEqualTo(4 * S); // looks again 10 s after the last byte
        assertThat(p.check(114 * S, 1)).isEqualTo(BodyProgress.EXPIRED);
        assertThat(p.failure()).isEqualTo("no request body bytes within 10s");
    }

    @Test
    void theRateIsJudgedAfterTheGraceThenEveryFifthOfIt() {
        BodyProgress p = new BodyProgress(HttpSettings.builder().requestBodyTimeout(Duration.ZERO)
                .minRequestBodyRate(100, Duration.ofSeconds(5)).build());
        assertThat(p.start(0)).isEqualTo(5 * S);
        p.moved(5 * S);
        assertThat(p.check(5 * S, 500)).isEqualTo(S); // exactly 100 B/s: fine, next look in grace/5
        p.moved(6 * S);
        assertThat(p.check(6 * S, 599)).isEqualTo(BodyProgress.EXPIRED);
        assertThat(p.failure()).contains("599 bytes in 6s").contains("minimum 100 B/s");
    }

    @Test
    void timeTheProxyHeldTheClientBackIsNotCounted() {
        BodyProgress p = new BodyProgress(HttpSettings.builder().requestBodyTimeout(Duration.ofSeconds(10))
                .minRequestBodyRate(100, Duration.ofSeconds(5)).build());
        p.start(0);
        p.restart(60 * S, 10); // a minute of backpressure, 10 bytes in
        assertThat(p.check(63 * S, 10)).isEqualTo(2 * S); // the grace runs again from the restart
        assertThat(p.check(65 * S, 510)).isEqualTo(S);
        assertThat(p.check(66 * S, 510)).isEqualTo(BodyProgress.EXPIRED);
    }

    @Test
    void aShortGraceIsCheckedAtMostEveryTenthOfASecond() {
        BodyProgress p = new BodyProgress(HttpSettings.builder().requestBodyTimeout(Duration.ZERO)
                .minRequestBodyRate(1, Duration.ofMillis(100)).build());
        p.start(0);
        assertThat(p.check(S, 1_000)).isEqualTo(100_000_000L);
    }
}
