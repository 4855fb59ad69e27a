package dev.smartproxy.route;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PortSetTest {

    @Test
    void singlePorts() {
        PortSet s = PortSet.of(443);
        assertThat(s.contains(443)).isTrue();
        assertThat(s.contains(442)).isFalse();
        assertThat(s.contains(444)).isFalse();
        assertThat(s.size()).isEqualTo(1);
        assertThat(s).hasToString("443");
    }

    @Test
    void listIsSortedAndDeduplicated() {
        PortSet s = PortSet.of(443, 80, 443, 8080);
        assertThat(s.stream().toArray()).containsExactly(80, 443, 8080);
        assertThat(s.size()).isEqualTo(3);
        assertThat(s).hasToString("80,443,8080");
        assertThat(s.contains(80)).isTrue();
        assertThat(s.contains(8080)).isTrue();
        assertThat(s.contains(81)).isFalse();
    }

    @Test
    void rangeIsInclusive() {
        PortSet s = PortSet.range(8000, 8099);
        assertThat(s.contains(7999)).isFalse();
        assertThat(s.contains(8000)).isTrue();
        assertThat(s.contains(8050)).isTrue();
        assertThat(s.contains(8099)).isTrue();
        assertThat(s.contains(8100)).isFalse();
        assertThat(s.size()).isEqualTo(100);
        assertThat(s).hasToString("8000-8099");
    }

    @Test
    void singlePortRange() {
        PortSet s = PortSet.range(22, 22);
        assertThat(s).isEqualTo(PortSet.of(22));
        assertThat(s).hasToString("22");
    }

    @Test
    void boundaryPorts() {
        assertThat(PortSet.of(1).contains(1)).isTrue();
        assertThat(PortSet.of(65535).contains(65535)).isTrue();
        PortSet all = PortSet.range(1, 65535);
        assertThat(all.size()).isEqualTo(65535);
        assertThat(all.contains(1)).isTrue();
        assertThat(all.contains(65535)).isTrue();
        assertThat(all.contains(0)).isFalse();
        assertThat(all.contains(65536)).isFalse();
        assertThat(all.contains(-1)).isFalse();
    }

    @Test
    void parseListsAndRanges() {
        PortSet s = PortSet.parse("80, 443, 8000-8099");
        assertThat(s.contains(80)).isTrue();
        assertThat(s.contains(443)).isTrue();
        assertThat(s.contains(8000)).isTrue();
        assertThat(s.contains(8099)).isTrue();
        assertThat(s.contains(8100)).isFalse();
        assertThat(s.contains(81)).isFalse();
        assertThat(s.size()).isEqualTo(102);
        assertThat(s).hasToString("80,443,8000-8099");
    }

    @Test
    void parseToleratesSpacesAroundDash() {
        assertThat(PortSet.parse(" 10 - 12 ")).isEqualTo(PortSet.range(10, 12));
    }

    @Test
    void toStringRoundTripsThroughParse() {
        PortSet s = PortSet.of(1, 3).union(PortSet.range(100, 200)).union(PortSet.of(65535));
        assertThat(PortSet.parse(s.toString())).isEqualTo(s);
    }

    @Test
    void overlappingAndAdjacentRangesMerge() {
        PortSet s = PortSet.parse("10-20,15-25,26,30");
        assertThat(s).hasToString("10-26,30");
        assertThat(s.size()).isEqualTo(18);
        assertThat(s).isEqualTo(PortSet.range(10, 26).union(PortSet.of(30)));
    }

    @Test
    void containedRangeDoesNotShrinkEnclosingRange() {
        PortSet s = PortSet.range(100, 200).union(PortSet.range(120, 130));
        assertThat(s).isEqualTo(PortSet.range(100, 200));
        assertThat(s.contains(199)).isTrue();
    }

    @Test
    void unionIsCommutativeAndDoesNotChangeOperands() {
        PortSet a = PortSet.of(80);
        PortSet b = PortSet.range(8000, 8001);
        PortSet u = a.union(b);
        assertThat(u).isEqualTo(b.union(a));
        assertThat(u.stream().toArray()).containsExactly(80, 8000, 8001);
        assertThat(a.stream().toArray()).containsExactly(80);
        assertThat(b.stream().toArray()).containsExactly(8000, 8001);
    }

    @Test
    void containsIsCorrectAcrossManyRanges() {
        PortSet s = PortSet.parse("2,4,6,8,10,12,14-16,20");
        for (int p = 0; p <= 25; p++) {
            boolean expected = p == 2 || p == 4 || p == 6 || p == 8 || p == 10 || p == 12
                    || (p >= 14 && p <= 16) || p == 20;
            assertThat(s.contains(p)).as("port %d", p).isEqualTo(expected);
        }
    }

    @Test
    void equalsAndHashCodeFollowContent() {
        PortSet a = PortSet.parse("80,81,82");
        PortSet b = PortSet.range(80, 82);
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(PortSet.range(80, 83));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 65536, Integer.MAX_VALUE, Integer.MIN_VALUE})
    void ofRejectsOutOfRange(int port) {
        assertThatThrownBy(() -> PortSet.of(80, port))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports")
                .hasMessageContaining(String.valueOf(port))
                .hasMessageContaining("expected: 1..65535");
    }

    @Test
    void ofRejectsEmpty() {
        assertThatThrownBy(PortSet::of)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports")
                .hasMessageContaining("expected");
    }

    @Test
    void ofRejectsNull() {
        assertThatThrownBy(() -> PortSet.of((int[]) null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void rangeRejectsBadBounds() {
        assertThatThrownBy(() -> PortSet.range(0, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> PortSet.range(10, 65536))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> PortSet.range(20, 10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports")
                .hasMessageContaining("20-10")
                .hasMessageContaining("expected: from <= to");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", ",", "80,", ",80", "80,,443", "abc", "80-", "-80", "80-90-100", "8o",
            "1.5", "0", "65536", "0-10", "10-65536", "20-10", "99999999999"})
    void parseRejectsMalformed(String spec) {
        assertThatThrownBy(() -> PortSet.parse(spec))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports")
                .hasMessageContaining("expected");
    }

    @Test
    void parseRejectsNull() {
        assertThatThrownBy(() -> PortSet.parse(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void checkPortNamesTheSetting() {
        assertThatThrownBy(() -> PortSet.checkPort("target port", 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target port: 0 (expected: 1..65535)");
    }

    @Test
    void signedNumbersAreNotPorts() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PortSet.parse("+80"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ports");
    }
}
