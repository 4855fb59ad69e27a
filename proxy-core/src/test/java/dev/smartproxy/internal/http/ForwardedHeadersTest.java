package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ForwardedHeaders}: the hop-by-hop and forwarded-header policy, as tables; no channel. */
class ForwardedHeadersTest {
    private static HttpHeaders headers(String... lines) {
        HttpHeaders h = new DefaultHttpHeaders(false);
        for (String l : lines) {
            int colon = l.indexOf(':');
            h.add(l.substring(0, colon).trim(), l.substring(colon + 1).trim());
        }
        return h;
    }

    @Test
    void hopByHopHeadersAndTheOnesConnectionNamesAreRemoved() {
        HttpHeaders h = headers("Connection: keep-alive, X-Hop", "Connection: X-Other", "X-Hop: 1", "X-Other: 2",
                "Keep-Alive: 300", "Proxy-Connection: keep-alive", "TE: trailers", "Trailer: X-T", "Upgrade: h2c",
                "X-Keep: 1", "Transfer-Encoding: chunked");
        ForwardedHeaders.stripHopByHop(h);
        assertThat(h.names()).containsExactlyInAnyOrder("X-Keep", "Transfer-Encoding");
    }

    @Test
    void aConnectionListCannotRemoveTheFramingHeadersOrHost() {
        HttpHeaders h = headers("Connection: Content-Length, Transfer-Encoding, HOST, , X-A", "Content-Length: 5",
                "Host: a", "X-A: 1");
        ForwardedHeaders.stripHopByHop(h);
        assertThat(h.names()).containsExactlyInAnyOrder("Content-Length", "Host");
    }

    @Test
    void connectionTokensAreTrimmedComparedWithoutCaseAndMayNameAnyHeader() {
        HttpHeaders h = headers("Connection: \tKEEP-ALIVE ,close,, x-lower ,X-UPPER,connection", "Close: 1",
                "X-Lower: 1", "x-upper: 2", "Keep-Alive: 5", "X-Keep: 1", "Content-Length: 0");
        ForwardedHeaders.stripHopByHop(h);
        assertThat(h.names()).containsExactlyInAnyOrder("X-Keep", "Content-Length");
    }

    static Stream<Arguments> untrusted() {
        return Stream.of(
                Arguments.of(List.of(), "a.example:8080"),
                Arguments.of(List.of("X-Forwarded-For: 6.6.6.6", "X-Forwarded-Proto: https", "X-Forwarded-Host: evil",
                        "X-Forwarded-Port: 1", "Forwarded: for=6.6.6.6"), "a.example:8080"),
                Arguments.of(List.of("X_Forwarded_For: 6.6.6.6", "X-Forwarded_Host: evil", "FORWARDED: for=x",
                        "x-FORWARDED-prefix: /p"), "a.example:8080"));
    }

    @ParameterizedTest
    @MethodSource("untrusted")
    void untrustedClientHeadersAreReplacedInEverySpelling(List<String> sent, String host) {
        HttpHeaders h = headers(sent.toArray(String[]::new));
        h.add("X-Keep", "1");
        ForwardedHeaders.apply(h, false, "10.0.0.1", true, host);
        assertThat(h.names()).containsExactlyInAnyOrder("X-Keep", "x-forwarded-for", "x-forwarded-proto",
                "x-forwarded-host");
        assertThat(h.getAll("x-forwarded-for")).containsExactly("10.0.0.1");
        assertThat(h.get("x-forwarded-proto")).isEqualTo("https");
        assertThat(h.get("x-forwarded-host")).isEqualTo(host);
    }

    @Test
    void withoutAHostNoForwardedHostIsSet() {
        HttpHeaders h = headers("X-Forwarded-Host: evil");
        ForwardedHeaders.apply(h, false, "10.0.0.1", false, null);
        assertThat(h.contains("x-forwarded-host")).isFalse();
        assertThat(h.get("x-forwarded-proto")).isEqualTo("http");
    }

    @Test
    void trustedHeadersAreAppendedToAndKept() {
        HttpHeaders h = headers("X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 7.7.7.7", "X-Forwarded-Proto: https",
                "X-Forwarded-Host: front", "Forwarded: for=6.6.6.6");
        ForwardedHeaders.apply(h, true, "10.0.0.1", false, "a");
        assertThat(h.getAll("x-forwarded-for")).containsExactly("6.6.6.6, 7.7.7.7, 10.0.0.1");
        assertThat(h.get("x-forwarded-proto")).isEqualTo("https");
        assertThat(h.get("x-forwarded-host")).isEqualTo("front");
        assertThat(h.get("forwarded")).isEqualTo("for=6.6.6.6");

        HttpHeaders none = headers();
        ForwardedHeaders.apply(none, true, "10.0.0.1", true, "a:1");
        assertThat(none.get("x-forwarded-for")).isEqualTo("10.0.0.1");
        assertThat(none.get("x-forwarded-proto")).isEqualTo("https");
        assertThat(none.get("x-forwarded-host")).isEqualTo("a:1");
    }

    @Test
    void aRequestIsRewrittenForItsBackend() {
        HttpRequest abs = new DefaultHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET, "http://Front:8080/a/../b?q");
        abs.headers().set("Host", "ignored").set("Connection", "keep-alive").set("Keep-Alive", "5");
        RequestValidator.Valid v = (RequestValidator.Valid) RequestValidator.validate(abs, HttpSettings.defaults());
        ForwardedHeaders.prepareRequest(abs, v, false, false, "10.0.0.1", true);
        assertThat(abs.uri()).isEqualTo("/b?q");
        assertThat(abs.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
        assertThat(abs.headers().get("Host")).isEqualTo("Front:8080");
        assertThat(abs.headers().get("x-forwarded-host")).isEqualTo("Front:8080");
        assertThat(abs.headers().get("x-forwarded-proto")).isEqualTo("https");
        assertThat(abs.headers().contains("Connection")).isFalse();
        assertThat(abs.headers().contains("Keep-Alive")).isFalse();

        HttpRequest ws = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ws");
        ws.headers().set("Host", "a").set("Upgrade", "websocket").set("Connection", "keep-alive, Upgrade");
        RequestValidator.Valid wv = (RequestValidator.Valid) RequestValidator.validate(ws, HttpSettings.defaults());
        ForwardedHeaders.prepareRequest(ws, wv, true, false, "10.0.0.1", false);
        assertThat(ws.uri()).isEqualTo("/ws");
        assertThat(ws.headers().get("Connection")).isEqualTo("upgrade");
        assertThat(ws.headers().get("Upgrade")).isEqualTo("websocket");
        assertThat(ws.headers().get("Host")).isEqualTo("a");

        HttpRequest h2c = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/x");
        h2c.headers().set("Host", "a").set("Upgrade", "h2c").set("Connection", "Upgrade");
        RequestValidator.Valid hv = (RequestValidator.Valid) RequestValidator.validate(h2c, HttpSettings.defaults());
        ForwardedHeaders.prepareRequest(h2c, hv, false, false, "10.0.0.1", false);
        assertThat(h2c.headers().contains("Upgrade")).isFalse();
        assertThat(h2c.headers().contains("Connection")).isFalse();
    }

    @Test
    void theClientIpIsSpelledAsABackendReadsIt() throws Exception {
        assertThat(ForwardedHeaders.clientIp(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 5)))
                .isEqualTo("127.0.0.1");
        assertThat(ForwardedHeaders.clientIp(new InetSocketAddress(InetAddress.getByName("::1"), 5))).isEqualTo("::1");
        assertThat(ForwardedHeaders.clientIp(InetSocketAddress.createUnresolved("host.example", 5)))
                .isEqualTo("host.example");
        assertThat(ForwardedHeaders.clientIp(null)).isEqualTo("unknown");
    }
}
