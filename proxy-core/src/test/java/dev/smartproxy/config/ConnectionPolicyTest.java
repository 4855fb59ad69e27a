package dev.smartproxy.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConnectionPolicyTest {
    private static final Duration ONE_MS = Duration.ofMillis(1);
    private static final Duration YEAR = Duration.ofDays(365);

    // ---- defaults: the values users of the TypeScript SmartProxy expect (REFERENCE.md) ----

    @Test
    void defaultsMatchReference() {
        ConnectionPolicy p = ConnectionPolicy.defaults();
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofHours(4));
        assertThat(p.keepAliveTreatment()).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(p.keepAliveInactivityMultiplier()).isEqualTo(6);
        assertThat(p.extendedKeepAliveGrace()).isEqualTo(Duration.ofMinutes(10));
        assertThat(p.maxConnectionLifetime()).isEqualTo(Duration.ofHours(24));
        assertThat(p.extendedKeepAliveLifetime()).isEqualTo(Duration.ofDays(7));
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(p.initialDataTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.maxClientHelloSize()).isEqualTo(64 * 1024);
        assertThat(p.maxPendingDataSize()).as("64 KiB, not the TypeScript proxy's 10 MB").isEqualTo(64 * 1024);
        assertThat(p.bufferBudget()).isEqualTo(ConnectionPolicy.DEFAULT_BUFFER_BUDGET)
                .isEqualTo(ConnectionPolicy.defaultBufferBudget(
                        io.netty.util.internal.PlatformDependent.maxDirectMemory()));
        assertThat(p.halfCloseGraceTls()).isEqualTo(Duration.ofMinutes(5));
        assertThat(p.halfCloseGracePlain()).isEqualTo(Duration.ofSeconds(30));
        assertThat(p.gracefulShutdownTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(p.tcpKeepAlive()).isEqualTo(TcpKeepAlive.defaults());
        assertThat(p.tcpKeepAlive().enabled()).isTrue();
        assertThat(p.tcpKeepAlive().detectionTime()).isLessThanOrEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void defaultBufferBudgetIsAQuarterOfDirectMemoryClamped() {
        assertThat(ConnectionPolicy.defaultBufferBudget(1L << 30)).isEqualTo(256L << 20);
        assertThat(ConnectionPolicy.defaultBufferBudget(256L << 20)).isEqualTo(64L << 20);
        assertThat(ConnectionPolicy.defaultBufferBudget(8L << 20)).as("at least 4 MiB").isEqualTo(4L << 20);
        assertThat(ConnectionPolicy.defaultBufferBudget(64L << 30)).as("at most 1 GiB").isEqualTo(1L << 30);
        assertThat(ConnectionPolicy.DEFAULT_BUFFER_BUDGET).isBetween(4L << 20, 1L << 30);
    }

    @Test
    void extendedDefaultIsTwentyFourHours() {
        ConnectionPolicy p = ConnectionPolicy.defaults();
        assertThat(p.inactivityTimeout().multipliedBy(p.keepAliveInactivityMultiplier()))
                .isEqualTo(Duration.ofHours(24));
    }

    @Test
    void builderStartsFromDefaults() {
        assertThat(ConnectionPolicy.builder().build()).isEqualTo(ConnectionPolicy.defaults())
                .hasSameHashCodeAs(ConnectionPolicy.defaults());
    }

    // ---- setters keep their values; toBuilder round-trips ----

    private static ConnectionPolicy everythingChanged() {
        return ConnectionPolicy.builder()
                .inactivityTimeout(Duration.ofMinutes(7))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .keepAliveInactivityMultiplier(10)
                .extendedKeepAliveGrace(Duration.ofMinutes(3))
                .maxConnectionLifetime(Duration.ofHours(2))
                .extendedKeepAliveLifetime(Duration.ofDays(2))
                .connectTimeout(Duration.ofSeconds(5))
                .initialDataTimeout(Duration.ofSeconds(9))
                .maxClientHelloSize(4096)
                .maxPendingDataSize(8192)
                .bufferBudget(8 << 20)
                .halfCloseGraceTls(Duration.ofMinutes(1))
                .halfCloseGracePlain(Duration.ofSeconds(3))
                .tcpKeepAlive(TcpKeepAlive.disabled())
                .gracefulShutdownTimeout(Duration.ofSeconds(2))
                .build();
    }

    @Test
    void settersAreKept() {
        ConnectionPolicy p = everythingChanged();
        assertThat(p.inactivityTimeout()).isEqualTo(Duration.ofMinutes(7));
        assertThat(p.keepAliveTreatment()).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(p.keepAliveInactivityMultiplier()).isEqualTo(10);
        assertThat(p.extendedKeepAliveGrace()).isEqualTo(Duration.ofMinutes(3));
        assertThat(p.maxConnectionLifetime()).isEqualTo(Duration.ofHours(2));
        assertThat(p.extendedKeepAliveLifetime()).isEqualTo(Duration.ofDays(2));
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.initialDataTimeout()).isEqualTo(Duration.ofSeconds(9));
        assertThat(p.maxClientHelloSize()).isEqualTo(4096);
        assertThat(p.maxPendingDataSize()).isEqualTo(8192);
        assertThat(p.bufferBudget()).isEqualTo(8 << 20);
        assertThat(p.halfCloseGraceTls()).isEqualTo(Duration.ofMinutes(1));
        assertThat(p.halfCloseGracePlain()).isEqualTo(Duration.ofSeconds(3));
        assertThat(p.tcpKeepAlive()).isEqualTo(TcpKeepAlive.disabled());
        assertThat(p.gracefulShutdownTimeout()).isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void toBuilderRoundTripsEverySetting() {
        ConnectionPolicy p = everythingChanged();
        assertThat(p.toBuilder().build()).isEqualTo(p).hasSameHashCodeAs(p);
        assertThat(p).isNotEqualTo(ConnectionPolicy.defaults());
    }

    @Test
    void equalsSeesEverySetting() {
        ConnectionPolicy d = ConnectionPolicy.defaults();
        assertThat(d.toBuilder().inactivityTimeout(Duration.ofHours(5)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().keepAliveTreatment(KeepAliveTreatment.IMMORTAL).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().keepAliveInactivityMultiplier(7).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().extendedKeepAliveGrace(Duration.ofMinutes(11)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().maxConnectionLifetime(Duration.ofHours(25)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().extendedKeepAliveLifetime(Duration.ofDays(8)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().connectTimeout(Duration.ofSeconds(31)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().initialDataTimeout(Duration.ofSeconds(61)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().maxClientHelloSize(1024).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().maxPendingDataSize(1 << 20).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().bufferBudget(d.bufferBudget() + 1).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().halfCloseGraceTls(Duration.ofMinutes(6)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().halfCloseGracePlain(Duration.ofSeconds(31)).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().tcpKeepAlive(TcpKeepAlive.disabled()).build()).isNotEqualTo(d);
        assertThat(d.toBuilder().gracefulShutdownTimeout(Duration.ofSeconds(31)).build()).isNotEqualTo(d);
    }

    @Test
    void builtPolicyIsNotChangedByItsBuilder() {
        ConnectionPolicy.Builder b = ConnectionPolicy.builder();
        ConnectionPolicy p = b.build();
        b.inactivityTimeout(Duration.ofSeconds(1)).keepAliveTreatment(KeepAliveTreatment.IMMORTAL);
        assertThat(p).isEqualTo(ConnectionPolicy.defaults());
        assertThat(ConnectionPolicy.defaults().inactivityTimeout()).isEqualTo(Duration.ofHours(4));
    }

    // ---- Duration.ZERO: accepted exactly where it disables ----

    @Test
    void zeroDisablesWhereDocumented() {
        ConnectionPolicy p = ConnectionPolicy.builder()
                .inactivityTimeout(Duration.ZERO)
                .extendedKeepAliveGrace(Duration.ZERO)
                .maxConnectionLifetime(Duration.ZERO)
                .extendedKeepAliveLifetime(Duration.ZERO)
                .halfCloseGraceTls(Duration.ZERO)
                .halfCloseGracePlain(Duration.ZERO)
                .gracefulShutdownTimeout(Duration.ZERO)
                .build();
        assertThat(p.inactivityTimeout()).isZero();
        assertThat(p.extendedKeepAliveGrace()).isZero();
        assertThat(p.maxConnectionLifetime()).isZero();
        assertThat(p.extendedKeepAliveLifetime()).isZero();
        assertThat(p.halfCloseGraceTls()).isZero();
        assertThat(p.halfCloseGracePlain()).isZero();
        assertThat(p.gracefulShutdownTimeout()).isZero();
    }

    @Test
    void zeroInactivityUnderExtendedBuilds() {
        assertThatCode(() -> ConnectionPolicy.builder().inactivityTimeout(Duration.ZERO)
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED).keepAliveInactivityMultiplier(1000).build())
                .doesNotThrowAnyException();
    }

    @Test
    void connectTimeoutCannotBeZero() {
        assertRejected(b -> b.connectTimeout(Duration.ZERO), "connectTimeout", "1ms to 10m");
    }

    @Test
    void initialDataTimeoutCannotBeZero() {
        assertRejected(b -> b.initialDataTimeout(Duration.ZERO), "initialDataTimeout", "1ms to 1h");
    }

    // ---- every validator: name and expected range in the message ----

    private static void assertRejected(Consumer<ConnectionPolicy.Builder> set, String name, String range) {
        assertThatThrownBy(() -> set.accept(ConnectionPolicy.builder()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(name + ": ")
                .hasMessageContaining("(expected: ")
                .hasMessageContaining(range);
    }

    /** A timer that ZERO disables, allowed 1 ms .. max. */
    private static void checkDisableableTimer(String name, Duration max,
                                              java.util.function.BiConsumer<ConnectionPolicy.Builder, Duration> set) {
        String range = "1ms to " + (max.equals(YEAR) ? "365d" : "1h");
        for (Duration bad : new Duration[] {Duration.ofMillis(-1), Duration.ofHours(-4), Duration.ofNanos(1),
                Duration.ofNanos(999_999), max.plusMillis(1), max.plusDays(1), Duration.ofSeconds(Long.MAX_VALUE),
                Duration.ofSeconds(Long.MIN_VALUE)}) {
            assertRejected(b -> set.accept(b, bad), name, range);
            assertThatThrownBy(() -> set.accept(ConnectionPolicy.builder(), bad))
                    .hasMessageContaining("Duration.ZERO");
        }
        for (Duration ok : new Duration[] {Duration.ZERO, ONE_MS, max}) {
            assertThatCode(() -> set.accept(ConnectionPolicy.builder(), ok)).as("%s(%s)", name, ok)
                    .doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> set.accept(ConnectionPolicy.builder(), null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining(name);
    }

    /** A timer that cannot be disabled, allowed 1 ms .. max. */
    private static void checkRequiredTimer(String name, Duration max, String range,
                                           java.util.function.BiConsumer<ConnectionPolicy.Builder, Duration> set) {
        for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofMillis(-1), Duration.ofNanos(1),
                max.plusMillis(1), Duration.ofDays(10_000), Duration.ofSeconds(Long.MIN_VALUE)}) {
            assertRejected(b -> set.accept(b, bad), name, range);
            assertThatThrownBy(() -> set.accept(ConnectionPolicy.builder(), bad))
                    .message().doesNotContain("Duration.ZERO");
        }
        for (Duration ok : new Duration[] {ONE_MS, max}) {
            assertThatCode(() -> set.accept(ConnectionPolicy.builder(), ok)).as("%s(%s)", name, ok)
                    .doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> set.accept(ConnectionPolicy.builder(), null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining(name);
    }

    @Test
    void inactivityTimeoutValidated() {
        checkDisableableTimer("inactivityTimeout", YEAR, ConnectionPolicy.Builder::inactivityTimeout);
    }

    @Test
    void inactivityTimeoutMessageShowsValue() {
        assertThatThrownBy(() -> ConnectionPolicy.builder().inactivityTimeout(Duration.ofSeconds(-5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inactivityTimeout: -5s (expected: Duration.ZERO to disable, or 1ms to 365d)");
    }

    @Test
    void extendedKeepAliveGraceValidated() {
        checkDisableableTimer("extendedKeepAliveGrace", YEAR, ConnectionPolicy.Builder::extendedKeepAliveGrace);
    }

    @Test
    void maxConnectionLifetimeValidated() {
        checkDisableableTimer("maxConnectionLifetime", YEAR, ConnectionPolicy.Builder::maxConnectionLifetime);
    }

    @Test
    void extendedKeepAliveLifetimeValidated() {
        checkDisableableTimer("extendedKeepAliveLifetime", YEAR, ConnectionPolicy.Builder::extendedKeepAliveLifetime);
    }

    @Test
    void halfCloseGraceTlsValidated() {
        checkDisableableTimer("halfCloseGraceTls", YEAR, ConnectionPolicy.Builder::halfCloseGraceTls);
    }

    @Test
    void halfCloseGracePlainValidated() {
        checkDisableableTimer("halfCloseGracePlain", YEAR, ConnectionPolicy.Builder::halfCloseGracePlain);
    }

    @Test
    void gracefulShutdownTimeoutValidated() {
        checkDisableableTimer("gracefulShutdownTimeout", Duration.ofHours(1),
                ConnectionPolicy.Builder::gracefulShutdownTimeout);
    }

    @Test
    void connectTimeoutValidated() {
        checkRequiredTimer("connectTimeout", Duration.ofMinutes(10), "1ms to 10m", ConnectionPolicy.Builder::connectTimeout);
    }

    @Test
    void initialDataTimeoutValidated() {
        checkRequiredTimer("initialDataTimeout", Duration.ofHours(1), "1ms to 1h",
                ConnectionPolicy.Builder::initialDataTimeout);
    }

    @Test
    void keepAliveInactivityMultiplierValidated() {
        for (int bad : new int[] {0, -1, 1001, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
            assertRejected(b -> b.keepAliveInactivityMultiplier(bad), "keepAliveInactivityMultiplier", "1..1000");
        }
        assertThat(ConnectionPolicy.builder().keepAliveInactivityMultiplier(1).build().keepAliveInactivityMultiplier())
                .isEqualTo(1);
        assertThat(ConnectionPolicy.builder().keepAliveInactivityMultiplier(1000).build()
                .keepAliveInactivityMultiplier()).isEqualTo(1000);
    }

    @Test
    void maxClientHelloSizeValidated() {
        for (int bad : new int[] {0, -1, 511, 0x1000000, Integer.MAX_VALUE}) {
            assertRejected(b -> b.maxClientHelloSize(bad), "maxClientHelloSize", "512..16777215");
        }
        assertThat(ConnectionPolicy.builder().maxClientHelloSize(512).build().maxClientHelloSize()).isEqualTo(512);
        assertThat(ConnectionPolicy.builder().maxClientHelloSize(0xFFFFFF).maxPendingDataSize(1L << 30).build()
                .maxClientHelloSize()).isEqualTo(0xFFFFFF);
    }

    @Test
    void maxPendingDataSizeValidated() {
        for (long bad : new long[] {0, -1, 1023, (1L << 30) + 1, Long.MAX_VALUE}) {
            assertRejected(b -> b.maxPendingDataSize(bad), "maxPendingDataSize", "1024..1073741824");
        }
        assertThat(ConnectionPolicy.builder().maxClientHelloSize(1024).maxPendingDataSize(1024).build()
                .maxPendingDataSize()).isEqualTo(1024);
        assertThat(ConnectionPolicy.builder().maxPendingDataSize(1L << 30).build().maxPendingDataSize())
                .isEqualTo(1L << 30);
    }

    @Test
    void bufferBudgetValidated() {
        for (long bad : new long[] {0, -1, 65535, (1L << 40) + 1, Long.MAX_VALUE, Long.MIN_VALUE}) {
            assertRejected(b -> b.bufferBudget(bad), "bufferBudget", "65536..1099511627776");
        }
        assertThat(ConnectionPolicy.builder().bufferBudget(65536).build().bufferBudget()).isEqualTo(65536);
        assertThat(ConnectionPolicy.builder().bufferBudget(1L << 40).build().bufferBudget()).isEqualTo(1L << 40);
    }

    @Test
    void nullObjectsRejected() {
        assertThatThrownBy(() -> ConnectionPolicy.builder().keepAliveTreatment(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("keepAliveTreatment");
        assertThatThrownBy(() -> ConnectionPolicy.builder().tcpKeepAlive(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("tcpKeepAlive");
    }

    @Test
    void failedSetterLeavesPreviousValue() {
        ConnectionPolicy.Builder b = ConnectionPolicy.builder().inactivityTimeout(Duration.ofMinutes(1));
        assertThatThrownBy(() -> b.inactivityTimeout(Duration.ofMillis(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThat(b.build().inactivityTimeout()).isEqualTo(Duration.ofMinutes(1));
    }

    // ---- cross-field rules in build() ----

    @Test
    void extendedProductAboveAYearRejectedInBuild() {
        ConnectionPolicy.Builder b = ConnectionPolicy.builder()
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .inactivityTimeout(Duration.ofDays(100))
                .keepAliveInactivityMultiplier(4); // setters alone accept it: 400 days only fails as a product
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keepAliveInactivityMultiplier")
                .hasMessageContaining("inactivityTimeout")
                .hasMessageContaining("expected")
                .hasMessageContaining("365d");
    }

    @Test
    void extendedProductRuleDoesNotDependOnSetterOrder() {
        ConnectionPolicy.Builder b = ConnectionPolicy.builder()
                .keepAliveInactivityMultiplier(4)
                .inactivityTimeout(Duration.ofDays(100))
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED);
        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keepAliveInactivityMultiplier");
    }

    @Test
    void extendedProductOfExactlyAYearBuilds() {
        ConnectionPolicy p = ConnectionPolicy.builder()
                .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .inactivityTimeout(Duration.ofDays(73))
                .keepAliveInactivityMultiplier(5)
                .build();
        assertThat(p.inactivityTimeout().multipliedBy(p.keepAliveInactivityMultiplier())).isEqualTo(YEAR);
    }

    @Test
    void productRuleOnlyAppliesUnderExtended() {
        for (KeepAliveTreatment t : new KeepAliveTreatment[] {KeepAliveTreatment.NORMAL, KeepAliveTreatment.IMMORTAL}) {
            assertThatCode(() -> ConnectionPolicy.builder().keepAliveTreatment(t)
                    .inactivityTimeout(Duration.ofDays(100)).keepAliveInactivityMultiplier(4).build())
                    .as("%s", t).doesNotThrowAnyException();
        }
    }

    @Test
    void pendingDataSmallerThanClientHelloRejectedInBuild() {
        ConnectionPolicy.Builder b = ConnectionPolicy.builder().maxPendingDataSize(4096); // default hello cap 64 KiB
        assertThatThrownBy(b::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("maxPendingDataSize: 4096")
                .hasMessageContaining("expected")
                .hasMessageContaining("maxClientHelloSize")
                .hasMessageContaining("65536");
        assertThat(b.maxClientHelloSize(4096).build().maxPendingDataSize()).isEqualTo(4096);
    }

    @Test
    void toStringIsReadable() {
        assertThat(ConnectionPolicy.defaults().toString()).contains("inactivity=4h").contains("NORMAL");
    }
}
