package dev.smartproxy.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WebSocketSettingsTest {

    @Test
    void defaults() {
        WebSocketSettings d = WebSocketSettings.defaults();
        assertThat(d.pingInterval()).isEqualTo(Duration.ofSeconds(30));
        assertThat(d.pingTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(d.maxFrameSize()).isEqualTo(1024 * 1024);
        assertThat(d.heartbeatEnabled()).isTrue();
        assertThat(WebSocketSettings.builder().build()).isEqualTo(d).hasSameHashCodeAs(d);
        assertThat(d.toString()).contains("30s", "10s", "1048576");
    }

    @Test
    void zeroIntervalDisablesTheHeartbeat() {
        WebSocketSettings off = WebSocketSettings.builder().pingInterval(Duration.ZERO).build();
        assertThat(off.heartbeatEnabled()).isFalse();
        assertThat(off).isNotEqualTo(WebSocketSettings.defaults());
        assertThat(off.toString()).contains("off");
    }

    @Test
    void boundsAreAccepted() {
        WebSocketSettings lo = WebSocketSettings.builder().pingInterval(Duration.ofMillis(1))
                .pingTimeout(Duration.ofMillis(1)).maxFrameSize(125).build();
        assertThat(lo.pingInterval()).isEqualTo(Duration.ofMillis(1));
        assertThat(lo.pingTimeout()).isEqualTo(Duration.ofMillis(1));
        assertThat(lo.maxFrameSize()).isEqualTo(125);
        WebSocketSettings hi = WebSocketSettings.builder().pingInterval(Duration.ofHours(1))
                .pingTimeout(Duration.ofHours(1)).maxFrameSize(64 * 1024 * 1024).build();
        assertThat(hi.pingInterval()).isEqualTo(Duration.ofHours(1));
        assertThat(hi.pingTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(hi.maxFrameSize()).isEqualTo(64 * 1024 * 1024);
    }

    @Test
    void pingIntervalIsValidated() {
        assertThatThrownBy(() -> WebSocketSettings.builder().pingInterval(Duration.ofNanos(999_999)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("webSocket.pingInterval: 999999ns (expected: Duration.ZERO to disable, or 1ms to 1h)");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingInterval(Duration.ofHours(1).plusMillis(1)))
                .hasMessage("webSocket.pingInterval: 1h1ms (expected: Duration.ZERO to disable, or 1ms to 1h)");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingInterval(Duration.ofSeconds(-1)))
                .hasMessageStartingWith("webSocket.pingInterval: -1s (expected:");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingInterval(null))
                .isInstanceOf(NullPointerException.class).hasMessage("webSocket.pingInterval");
    }

    @Test
    void pingTimeoutIsValidated() {
        assertThatThrownBy(() -> WebSocketSettings.builder().pingTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("webSocket.pingTimeout: 0 (expected: 1ms to 1h)");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingTimeout(Duration.ofHours(2)))
                .hasMessage("webSocket.pingTimeout: 2h (expected: 1ms to 1h)");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingTimeout(Duration.ofMillis(-5)))
                .hasMessageStartingWith("webSocket.pingTimeout: -5ms (expected:");
        assertThatThrownBy(() -> WebSocketSettings.builder().pingTimeout(null))
                .isInstanceOf(NullPointerException.class).hasMessage("webSocket.pingTimeout");
    }

    @Test
    void maxFrameSizeIsValidated() {
        assertThatThrownBy(() -> WebSocketSettings.builder().maxFrameSize(124))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("webSocket.maxFrameSize: 124 (expected: 125..67108864)");
        assertThatThrownBy(() -> WebSocketSettings.builder().maxFrameSize(64 * 1024 * 1024 + 1))
                .hasMessage("webSocket.maxFrameSize: 67108865 (expected: 125..67108864)");
        assertThatThrownBy(() -> WebSocketSettings.builder().maxFrameSize(-1))
                .hasMessage("webSocket.maxFrameSize: -1 (expected: 125..67108864)");
    }

    @Test
    void aFailedSetterLeavesTheBuilderUnchanged() {
        WebSocketSettings.Builder b = WebSocketSettings.builder().maxFrameSize(4096);
        assertThatThrownBy(() -> b.maxFrameSize(1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(b.build().maxFrameSize()).isEqualTo(4096);
    }
}
