package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link HttpSettings}: defaults and every validator. */
class HttpSettingsTest {
    @Test
    void defaults() {
        HttpSettings d = HttpSettings.defaults();
        assertThat(d.maxInitialLineLength()).isEqualTo(8192);
        assertThat(d.maxHeaderSize()).isEqualTo(16384);
        assertThat(d.maxRequestBodySize()).isZero();
        assertThat(d.responseTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(d.trustForwardedHeaders()).isFalse();
        assertThat(d).isEqualTo(HttpSettings.builder().build()).hasSameHashCodeAs(HttpSettings.builder().build());
    }

    @Test
    void settersKeepValuesInRange() {
        HttpSettings s = HttpSettings.builder().maxInitialLineLength(256).maxHeaderSize(256 * 1024)
                .maxRequestBodySize(1).responseTimeout(Duration.ZERO).trustForwardedHeaders(true).build();
        assertThat(s.maxInitialLineLength()).isEqualTo(256);
        assertThat(s.maxHeaderSize()).isEqualTo(262144);
        assertThat(s.maxRequestBodySize()).isEqualTo(1);
        assertThat(s.responseTimeout()).isZero();
        assertThat(s.trustForwardedHeaders()).isTrue();
        assertThat(s.toString()).contains("responseTimeout=off");
    }

    @Test
    void rejectsOutOfRangeValuesWithTheRangeInTheMessage() {
        assertThatThrownBy(() -> HttpSettings.builder().maxInitialLineLength(255))
                .hasMessage("http.maxInitialLineLength: 255 (expected: 256..65536)");
        assertThatThrownBy(() -> HttpSettings.builder().maxInitialLineLength(65537))
                .hasMessage("http.maxInitialLineLength: 65537 (expected: 256..65536)");
        assertThatThrownBy(() -> HttpSettings.builder().maxHeaderSize(1023))
                .hasMessage("http.maxHeaderSize: 1023 (expected: 1024..262144)");
        assertThatThrownBy(() -> HttpSettings.builder().maxHeaderSize(262145))
                .hasMessage("http.maxHeaderSize: 262145 (expected: 1024..262144)");
        assertThatThrownBy(() -> HttpSettings.builder().maxRequestBodySize(-1))
                .hasMessage("http.maxRequestBodySize: -1 (expected: 0 for unlimited, or a positive number of bytes)");
        assertThatThrownBy(() -> HttpSettings.builder().responseTimeout(Duration.ofHours(2)))
                .hasMessage("http.responseTimeout: 2h (expected: Duration.ZERO to disable, or 1ms to 1h)");
        assertThatThrownBy(() -> HttpSettings.builder().responseTimeout(Duration.ofNanos(1)))
                .hasMessageStartingWith("http.responseTimeout: 1ns (expected:");
        assertThatThrownBy(() -> HttpSettings.builder().responseTimeout(Duration.ofSeconds(-1)))
                .hasMessageStartingWith("http.responseTimeout: -1s (expected:");
        assertThatThrownBy(() -> HttpSettings.builder().responseTimeout(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void routesValidateTheirValues() {
        assertThatThrownBy(() -> new HttpRoute.Forward("r", "h", 0)).hasMessage("port: 0 (expected: 1..65535)");
        assertThatThrownBy(() -> new HttpRoute.Redirect("r", 200, "/x"))
                .hasMessage("status: 200 (expected: 301, 302, 303, 307 or 308)");
        assertThatThrownBy(() -> new HttpRoute.Respond("r", 99, "x")).hasMessage("status: 99 (expected: 200..599)");
    }

    @org.junit.jupiter.api.Test
    void requestTimeoutDefaultsToSixtySecondsAndIsValidated() {
        org.assertj.core.api.Assertions.assertThat(dev.smartproxy.config.HttpSettings.defaults().requestTimeout())
                .isEqualTo(java.time.Duration.ofSeconds(60));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.smartproxy.config.HttpSettings.builder()
                .requestTimeout(java.time.Duration.ofHours(2)))
                .hasMessageContaining("http.requestTimeout").hasMessageContaining("expected");
        org.assertj.core.api.Assertions.assertThat(dev.smartproxy.config.HttpSettings.builder()
                .requestTimeout(java.time.Duration.ZERO).build().requestTimeout()).isZero();
    }

    @Test
    void hostileClientSettingsHaveTheirDefaultsAndAreValidated() {
        HttpSettings d = HttpSettings.defaults();
        assertThat(d.requestBodyTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(d.minRequestBodyRate()).isEqualTo(240);
        assertThat(d.minRequestBodyRateGrace()).isEqualTo(Duration.ofSeconds(5));
        assertThat(d.maxHeaderCount()).isEqualTo(100);
        assertThat(d.mergeSlashes()).isTrue();
        assertThat(d.encodedSlashes()).isEqualTo(HttpSettings.EncodedSlashes.REJECT);
        HttpSettings s = HttpSettings.builder().requestBodyTimeout(Duration.ZERO).minRequestBodyRate(0, Duration.ofSeconds(1))
                .maxHeaderCount(10_000).mergeSlashes(false).encodedSlashes(HttpSettings.EncodedSlashes.KEEP).build();
        assertThat(s.toString()).contains("requestBodyTimeout=off", "minRequestBodyRate=off", "maxHeaderCount=10000",
                "mergeSlashes=false", "encodedSlashes=KEEP", "requestTimeout=1m");
        assertThat(s).isNotEqualTo(d);
        assertThatThrownBy(() -> HttpSettings.builder().requestBodyTimeout(Duration.ofHours(2)))
                .hasMessage("http.requestBodyTimeout: 2h (expected: Duration.ZERO to disable, or 1ms to 1h)");
        assertThatThrownBy(() -> HttpSettings.builder().minRequestBodyRate(-1, Duration.ofSeconds(5)))
                .hasMessage("http.minRequestBodyRate: -1 (expected: 0..1073741824)");
        assertThatThrownBy(() -> HttpSettings.builder().minRequestBodyRate(240, Duration.ZERO))
                .hasMessage("http.minRequestBodyRateGrace: 0 (expected: 1ms to 1h)");
        assertThatThrownBy(() -> HttpSettings.builder().maxHeaderCount(0))
                .hasMessage("http.maxHeaderCount: 0 (expected: 1..10000)");
        assertThatThrownBy(() -> HttpSettings.builder().maxHeaderCount(10_001))
                .hasMessage("http.maxHeaderCount: 10001 (expected: 1..10000)");
        assertThatThrownBy(() -> HttpSettings.builder().encodedSlashes(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void backendPoolSettingsHaveTheirDefaultsAndAreValidated() {
        HttpSettings d = HttpSettings.defaults();
        assertThat(d.backendPoolSize()).isEqualTo(32);
        assertThat(d.backendIdleTimeout()).isEqualTo(Duration.ofSeconds(4));
        HttpSettings s = HttpSettings.builder().backendPoolSize(0).backendIdleTimeout(Duration.ofMillis(1)).build();
        assertThat(s.backendPoolSize()).isZero();
        assertThat(s.backendIdleTimeout()).isEqualTo(Duration.ofMillis(1));
        assertThat(s).isNotEqualTo(d);
        assertThat(HttpSettings.builder().backendPoolSize(10_000).backendIdleTimeout(Duration.ofHours(1)).build()
                .toString()).contains("backendPoolSize=10000", "backendIdleTimeout=1h");
        assertThat(HttpSettings.builder().backendIdleTimeout(Duration.ofSeconds(9)).build()).isNotEqualTo(d);
        assertThatThrownBy(() -> HttpSettings.builder().backendPoolSize(-1))
                .hasMessage("http.backendPoolSize: -1 (expected: 0..10000)");
        assertThatThrownBy(() -> HttpSettings.builder().backendPoolSize(10_001))
                .hasMessage("http.backendPoolSize: 10001 (expected: 0..10000)");
        assertThatThrownBy(() -> HttpSettings.builder().backendIdleTimeout(Duration.ZERO))
                .hasMessage("http.backendIdleTimeout: 0 (expected: 1ms to 1h)");
        assertThatThrownBy(() -> HttpSettings.builder().backendIdleTimeout(Duration.ofHours(2)))
                .hasMessage("http.backendIdleTimeout: 2h (expected: 1ms to 1h)");
        assertThatThrownBy(() -> HttpSettings.builder().backendIdleTimeout(null)).isInstanceOf(NullPointerException.class);
    }
}
