package dev.smartproxy.route;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The redirect Location template: single-pass expansion, IPv6 brackets, and a missing host. */
class RedirectLocationTest {

    @ParameterizedTest(name = "{0} + host={1} path={2} port={3} -> {4}")
    @CsvSource(delimiter = '|', nullValues = "NULL", value = {
        "https://{host}{path}         | example.com | /a/b?c=d        | 80   | https://example.com/a/b?c=d",
        "https://{host}{path}         | example.com | ''              | 80   | https://example.com/",
        "https://{host}{path}         | example.com | NULL            | 80   | https://example.com/",
        // Placeholders inside the client's path are the client's text, never expanded.
        "https://{host}{path}         | example.com | /x/{port}/y     | 80   | https://example.com/x/{port}/y",
        "https://{host}:{port}{path}  | example.com | /{host}?{port}  | 8443 | https://example.com:8443/{host}?{port}",
        "https://{host}{path}         | example.com | /{path}{path}   | 80   | https://example.com/{path}{path}",
        "https://new.test{path}       | example.com | /p/{host}       | 80   | https://new.test/p/{host}",
        // IPv6 literals get their brackets back; bracketed ones are kept as they are.
        "https://{host}{path}         | ::1         | /x              | 80   | https://[::1]/x",
        "https://{host}{path}         | [::1]       | /x              | 80   | https://[::1]/x",
        "https://{host}:{port}{path}  | 2001:db8::1 | /               | 8080 | https://[2001:db8::1]:8080/",
        "https://{host}{path}         | 192.0.2.1   | /x              | 80   | https://192.0.2.1/x",
        // Text that only looks like a placeholder is kept.
        "https://{host}/{other}{path} | example.com | /x              | 80   | https://example.com/{other}/x",
        "https://{host{path}          | example.com | /x              | 80   | https://{host/x",
        "https://new.test/fixed       | NULL        | /x              | 80   | https://new.test/fixed",
        "https://new.test{path}       | NULL        | /x              | 80   | https://new.test/x",
    })
    void expandsEachPlaceholderOnceWhereTheTemplateHasIt(String template, String host, String path, int port,
                                                         String expected) {
        assertThat(new RedirectAction(308, template).locationFor(host, path, port)).isEqualTo(expected);
    }

    @Test
    void aTemplateWithHostNeedsOne() {
        RedirectAction toHttps = new RedirectAction(308, "https://{host}{path}");
        assertThat(toHttps.usesHost()).isTrue();
        assertThat(new RedirectAction(301, "https://new.test{path}").usesHost()).isFalse();
        assertThatThrownBy(() -> toHttps.locationFor(null, "/x", 80))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("host").hasMessageContaining("expected");
        assertThatThrownBy(() -> toHttps.locationFor("", "/x", 80))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
