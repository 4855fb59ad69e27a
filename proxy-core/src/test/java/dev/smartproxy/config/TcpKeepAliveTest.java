package dev.smartproxy.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.BiConsumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TcpKeepAliveTest {

    @Test
    void defaults() {
        TcpKeepAlive d = TcpKeepAlive.defaults();
        assertThat(d.enabled()).isTrue();
        assertThat(d.idle()).isEqualTo(Duration.ofSeconds(60));
        assertThat(d.interval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(d.probes()).isEqualTo(6);
        assertThat(d.userTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(TcpKeepAlive.builder().build()).isEqualTo(d).hasSameHashCodeAs(d);
    }

    @Test
    void defaultDetectionIsAboutTwoMinutes() {
        assertThat(TcpKeepAlive.defaults().detectionTime())
                .isPositive()
                .isLessThanOrEqualTo(Duration.ofMinutes(2));
        assertThat(TcpKeepAlive.defaults().userTimeout()).isLessThanOrEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void detectionTimeIsIdlePlusIntervalTimesProbes() {
        TcpKeepAlive k = TcpKeepAlive.builder().idle(Duration.ofSeconds(30)).interval(Duration.ofSeconds(5))
                .probes(4).build();
        assertThat(k.detectionTime()).isEqualTo(Duration.ofSeconds(50));
    }

    @Test
    void disabled() {
        TcpKeepAlive off = TcpKeepAlive.disabled();
        assertThat(off.enabled()).isFalse();
        assertThat(off).isNotEqualTo(TcpKeepAlive.defaults());
        assertThat(off).isEqualTo(TcpKeepAlive.builder().enabled(false).build());
        assertThat(off.toString()).contains("off");
        assertThat(TcpKeepAlive.builder().enabled(false).enabled(true).build()).isEqualTo(TcpKeepAlive.defaults());
    }

    @Test
    void settersAreKept() {
        TcpKeepAlive k = TcpKeepAlive.builder().idle(Duration.ofSeconds(1)).interval(Duration.ofSeconds(32767))
                .probes(127).userTimeout(Duration.ZERO).build();
        assertThat(k.idle()).isEqualTo(Duration.ofSeconds(1));
        assertThat(k.interval()).isEqualTo(Duration.ofSeconds(32767));
        assertThat(k.probes()).isEqualTo(127);
        assertThat(k.userTimeout()).isZero();
        assertThat(k).isNotEqualTo(TcpKeepAlive.defaults());
    }

    private static void assertRejected(BiConsumer<TcpKeepAlive.Builder, Duration> set, Duration bad, String name,
                                       String range) {
        assertThatThrownBy(() -> set.accept(TcpKeepAlive.builder(), bad))
                .as("%s(%s)", name, bad)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(name + ": ")
                .hasMessageContaining("(expected: ")
                .hasMessageContaining(range);
    }

    private static void checkSecondsOption(String name, BiConsumer<TcpKeepAlive.Builder, Duration> set) {
        for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofSeconds(-1), Duration.ofMillis(999),
                Duration.ofSeconds(32768), Duration.ofDays(1), Duration.ofSeconds(Long.MIN_VALUE)}) {
            assertRejected(set, bad, name, "1s to");
            assertRejected(set, bad, name, "32767s");
        }
        for (Duration fractional : new Duration[] {Duration.ofMillis(1500), Duration.ofSeconds(10).plusNanos(1)}) {
            assertRejected(set, fractional, name, "whole seconds");
        }
        for (Duration ok : new Duration[] {Duration.ofSeconds(1), Duration.ofSeconds(32767), Duration.ofMinutes(5)}) {
            assertThatCode(() -> set.accept(TcpKeepAlive.builder(), ok)).doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> set.accept(TcpKeepAlive.builder(), null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining(name);
    }

    @Test
    void idleValidated() {
        checkSecondsOption("tcpKeepAlive.idle", TcpKeepAlive.Builder::idle);
    }

    @Test
    void intervalValidated() {
        checkSecondsOption("tcpKeepAlive.interval", TcpKeepAlive.Builder::interval);
    }

    @Test
    void probesValidated() {
        for (int bad : new int[] {0, -1, 128, Integer.MAX_VALUE}) {
            assertThatThrownBy(() -> TcpKeepAlive.builder().probes(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("tcpKeepAlive.probes: " + bad)
                    .hasMessageContaining("expected: 1..127");
        }
        assertThat(TcpKeepAlive.builder().probes(1).build().probes()).isEqualTo(1);
    }

    @Test
    void userTimeoutValidated() {
        BiConsumer<TcpKeepAlive.Builder, Duration> set = TcpKeepAlive.Builder::userTimeout;
        for (Duration bad : new Duration[] {Duration.ofMillis(-1), Duration.ofNanos(1),
                Duration.ofMillis(Integer.MAX_VALUE + 1L), Duration.ofDays(30), Duration.ofSeconds(Long.MIN_VALUE)}) {
            assertRejected(set, bad, "tcpKeepAlive.userTimeout", "Duration.ZERO");
            assertRejected(set, bad, "tcpKeepAlive.userTimeout", "1ms to");
        }
        assertThat(TcpKeepAlive.builder().userTimeout(Duration.ZERO).build().userTimeout()).isZero();
        assertThat(TcpKeepAlive.builder().userTimeout(Duration.ofMillis(1)).build().userTimeout())
                .isEqualTo(Duration.ofMillis(1));
        assertThat(TcpKeepAlive.builder().userTimeout(Duration.ofMillis(Integer.MAX_VALUE)).build().userTimeout())
                .isEqualTo(Duration.ofMillis(Integer.MAX_VALUE));
        assertThatThrownBy(() -> TcpKeepAlive.builder().userTimeout(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("tcpKeepAlive.userTimeout");
    }

    @Test
    void equalsSeesEveryField() {
        TcpKeepAlive d = TcpKeepAlive.defaults();
        assertThat(TcpKeepAlive.builder().idle(Duration.ofSeconds(61)).build()).isNotEqualTo(d);
        assertThat(TcpKeepAlive.builder().interval(Duration.ofSeconds(11)).build()).isNotEqualTo(d);
        assertThat(TcpKeepAlive.builder().probes(7).build()).isNotEqualTo(d);
        assertThat(TcpKeepAlive.builder().userTimeout(Duration.ofMinutes(3)).build()).isNotEqualTo(d);
        assertThat(TcpKeepAlive.builder().enabled(false).build()).isNotEqualTo(d);
    }
}
