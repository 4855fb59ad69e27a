package dev.smartproxy.route;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DomainPatternTest {

    @Test
    void exactNameMatchesOnlyItself() {
        DomainPattern p = DomainPattern.of("example.com");
        assertThat(p.matches("example.com")).isTrue();
        assertThat(p.matches("a.example.com")).isFalse();
        assertThat(p.matches("example.org")).isFalse();
        assertThat(p.matches("xexample.com")).isFalse();
        assertThat(p.matches("example.com.evil")).isFalse();
        assertThat(p.isCatchAll()).isFalse();
    }

    @Test
    void wildcardMatchesSubdomainsAtAnyDepth() {
        DomainPattern p = DomainPattern.of("*.example.com");
        assertThat(p.matches("a.example.com")).isTrue();
        assertThat(p.matches("a.b.example.com")).isTrue();
        assertThat(p.matches("x.y.z.example.com")).isTrue();
        assertThat(p.isCatchAll()).isFalse();
    }

    @Test
    void wildcardDoesNotMatchTheBareDomain() {
        DomainPattern p = DomainPattern.of("*.example.com");
        assertThat(p.matches("example.com")).isFalse();
        assertThat(p.matches("example.com.")).isFalse();
        assertThat(p.matches("EXAMPLE.COM")).isFalse();
    }

    @Test
    void wildcardNeedsALabelBoundary() {
        DomainPattern p = DomainPattern.of("*.example.com");
        assertThat(p.matches("badexample.com")).isFalse();
        assertThat(p.matches("a.badexample.com")).isFalse();
        assertThat(p.matches("a.example.com.evil.net")).isFalse();
        assertThat(p.matches("a.example.org")).isFalse();
        assertThat(p.matches(".example.com")).isFalse();
    }

    @Test
    void catchAllMatchesAnyNameButNotNoName() {
        DomainPattern p = DomainPattern.of("*");
        assertThat(p.isCatchAll()).isTrue();
        assertThat(p.matches("example.com")).isTrue();
        assertThat(p.matches("a.b.c")).isTrue();
        assertThat(p.matches("localhost")).isTrue();
        assertThat(p.matches(null)).isFalse();
        assertThat(p.matches("")).isFalse();
        assertThat(p.matches(".")).isFalse();
    }

    @Test
    void nullSniMatchesNothing() {
        assertThat(DomainPattern.of("example.com").matches(null)).isFalse();
        assertThat(DomainPattern.of("*.example.com").matches(null)).isFalse();
    }

    @Test
    void caseInsensitiveOnBothSides() {
        assertThat(DomainPattern.of("Example.COM").matches("example.com")).isTrue();
        assertThat(DomainPattern.of("example.com").matches("EXAMPLE.com")).isTrue();
        assertThat(DomainPattern.of("*.Example.Com").matches("API.example.COM")).isTrue();
        assertThat(DomainPattern.of("Example.COM")).hasToString("example.com");
    }

    @Test
    void trailingDotIgnoredOnBothSides() {
        assertThat(DomainPattern.of("example.com.").matches("example.com")).isTrue();
        assertThat(DomainPattern.of("example.com").matches("example.com.")).isTrue();
        assertThat(DomainPattern.of("example.com.").matches("example.com.")).isTrue();
        assertThat(DomainPattern.of("*.example.com.").matches("a.example.com")).isTrue();
        assertThat(DomainPattern.of("*.example.com").matches("a.example.com.")).isTrue();
        assertThat(DomainPattern.of("*.example.com.").matches("example.com.")).isFalse();
        assertThat(DomainPattern.of("example.com.")).hasToString("example.com");
    }

    @Test
    void normalize() {
        assertThat(DomainPattern.normalize("  Api.Example.COM.  ")).isEqualTo("api.example.com");
        assertThat(DomainPattern.normalize("example.com")).isEqualTo("example.com");
        assertThat(DomainPattern.normalize(".")).isEmpty();
    }

    @Test
    void equalsAndHashCodeUseNormalisedForm() {
        DomainPattern a = DomainPattern.of("*.Example.com.");
        DomainPattern b = DomainPattern.of("*.example.com");
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(DomainPattern.of("example.com"));
        assertThat(a).hasToString("*.example.com");
    }

    @Test
    void acceptsValidNames() {
        assertThat(DomainPattern.of("localhost").matches("localhost")).isTrue();
        assertThat(DomainPattern.of("xn--bcher-kva.example").matches("XN--BCHER-KVA.example")).isTrue();
        assertThat(DomainPattern.of("a-b.c_d.example").matches("a-b.c_d.example")).isTrue();
        assertThat(DomainPattern.of("123.example").matches("123.example")).isTrue();
        String label63 = "a".repeat(63);
        assertThat(DomainPattern.of(label63 + ".com").matches(label63 + ".com")).isTrue();
        String name253 = ("a".repeat(49) + ".").repeat(5) + "b".repeat(3); // 50*5 + 3 = 253
        assertThat(name253).hasSize(253);
        assertThat(DomainPattern.of(name253).matches(name253)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", ".", "..", "a..b", ".example.com", "example..com", "*.*.example.com",
            "a.*.example.com", "*example.com", "ex*mple.com", "**.example.com", "-a.example.com",
            "a-.example.com", "exa mple.com", "exa/mple.com", "example.com:443", "bücher.example",
            "*.example.com..", "example.com.."})
    void rejectsInvalidPatterns(String pattern) {
        assertThatThrownBy(() -> DomainPattern.of(pattern))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("domains")
                .hasMessageContaining("expected");
    }

    @Test
    void rejectsTooLongLabelAndName() {
        String label64 = "a".repeat(64);
        assertThatThrownBy(() -> DomainPattern.of(label64 + ".com"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("63");
        String name254 = ("a".repeat(49) + ".").repeat(5) + "b".repeat(4);
        assertThat(name254).hasSize(254);
        assertThatThrownBy(() -> DomainPattern.of(name254))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("253");
    }

    @Test
    void catchAllWithTrailingDotIsCatchAll() {
        assertThat(DomainPattern.of("*.").isCatchAll()).isTrue();
    }

    @Test
    void misplacedWildcardMessageSaysSo() {
        assertThatThrownBy(() -> DomainPattern.of("a.*.example.com"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("wildcard");
    }

    @Test
    void rejectsNull() {
        assertThatThrownBy(() -> DomainPattern.of(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void nonAsciiIsRejectedNotCaseFolded() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DomainPattern.of("\u212Aexample.com"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ASCII");
        org.assertj.core.api.Assertions.assertThat(DomainPattern.of("example.com").matches("\u212Aexample.com".substring(1)))
                .isTrue();
        org.assertj.core.api.Assertions.assertThat(DomainPattern.of("kexample.com").matches("\u212Aexample.com"))
                .isFalse();
    }
}
