package dev.smartproxy.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KeepAliveTreatmentTest {

    @Test
    void standardIsNormal() {
        assertThat(KeepAliveTreatment.parse("standard")).isEqualTo(KeepAliveTreatment.NORMAL);
    }

    @Test
    void parsesEachName() {
        assertThat(KeepAliveTreatment.parse("normal")).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(KeepAliveTreatment.parse("extended")).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(KeepAliveTreatment.parse("immortal")).isEqualTo(KeepAliveTreatment.IMMORTAL);
    }

    @Test
    void parseIgnoresCaseAndSurroundingSpace() {
        assertThat(KeepAliveTreatment.parse("STANDARD")).isEqualTo(KeepAliveTreatment.NORMAL);
        assertThat(KeepAliveTreatment.parse(" Extended ")).isEqualTo(KeepAliveTreatment.EXTENDED);
        assertThat(KeepAliveTreatment.parse("Immortal")).isEqualTo(KeepAliveTreatment.IMMORTAL);
    }

    @Test
    void parseRoundTripsEveryConstant() {
        for (KeepAliveTreatment t : KeepAliveTreatment.values()) {
            assertThat(KeepAliveTreatment.parse(t.name())).isEqualTo(t);
        }
    }

    @Test
    void exactlyThreeTreatments() {
        assertThat(KeepAliveTreatment.values()).containsExactly(
                KeepAliveTreatment.NORMAL, KeepAliveTreatment.EXTENDED, KeepAliveTreatment.IMMORTAL);
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", " ", "forever", "norm", "standard-ish", "extend", "immortal!", "0"})
    void rejectsUnknownNames(String name) {
        assertThatThrownBy(() -> KeepAliveTreatment.parse(name))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keepAliveTreatment: ")
                .hasMessageContaining("'" + name + "'")
                .hasMessageContaining("expected: normal, standard, extended or immortal");
    }
}
