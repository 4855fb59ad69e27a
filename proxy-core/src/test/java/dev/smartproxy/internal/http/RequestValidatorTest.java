package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.http.RequestValidator.Refusal;
import dev.smartproxy.internal.http.RequestValidator.Valid;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link RequestValidator}: every check on a request head, as a table; no channel, no socket. */
class RequestValidatorTest {
    private static final HttpSettings DEFAULTS = HttpSettings.defaults();

    /** A request: {@code "METHOD uri VERSION"}, then {@code name: value} header lines. */
    private static HttpRequest request(String line, String... headers) {
        String[] parts = line.split(" ");
        HttpRequest r = new DefaultHttpRequest(HttpVersion.valueOf(parts[2]), HttpMethod.valueOf(parts[0]), parts[1]);
        for (String h : headers) {
            int colon = h.indexOf(':');
            r.headers().add(h.substring(0, colon).trim(), h.substring(colon + 1).trim());
        }
        return r;
    }

    private static Valid valid(HttpRequest r, HttpSettings s) {
        RequestValidator.Verdict v = RequestValidator.validate(r, s);
        assertThat(v).isInstanceOf(Valid.class);
        return (Valid) v;
    }

    // ------------------------------------------------------------------ accepted

    static Stream<Arguments> accepted() {
        // request, header, path, originForm, rewriteTarget, authority, hostValue, routingHost
        return Stream.of(
                Arguments.of("GET /hello?x=1 HTTP/1.1", "Host: App.Example:8080", "/hello", "/hello?x=1", false,
                        null, "App.Example:8080", "app.example"),
                Arguments.of("GET /a/./b/../%63//d?x=%2e./ HTTP/1.1", "Host: a", "/a/c/d", "/a/c/d?x=%2e./", true,
                        null, "a", "a"),
                Arguments.of("GET http://Example.COM:8080/a/../b?q HTTP/1.1", "Host: other", "/b", "/b?q", true,
                        "Example.COM:8080", "Example.COM:8080", "example.com"),
                Arguments.of("GET HTTPS://h HTTP/1.1", "Host: h", "/", "/", true, "h", "h", "h"),
                Arguments.of("GET http://h?x=1 HTTP/1.1", "Host: h", "/", "/?x=1", true, "h", "h", "h"),
                Arguments.of("GET http://[::1]:80/x HTTP/1.1", "Host: h", "/x", "/x", true, "[::1]:80", "[::1]:80", "::1"),
                Arguments.of("OPTIONS * HTTP/1.1", "Host: h", "*", "*", false, null, "h", "h"),
                Arguments.of("GET /x HTTP/1.0", "X-No-Host: 1", "/x", "/x", false, null, null, null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("accepted")
    void aValidRequestYieldsItsTargetAndRoutingHost(String line, String header, String path, String originForm,
                                                     boolean rewrite, String authority, String hostValue,
                                                     String routingHost) {
        Valid v = valid(request(line, header), DEFAULTS);
        assertThat(v.path()).isEqualTo(path);
        assertThat(v.originForm()).isEqualTo(originForm);
        assertThat(v.rewriteTarget()).isEqualTo(rewrite);
        assertThat(v.authority()).isEqualTo(authority);
        assertThat(v.hostValue()).isEqualTo(hostValue);
        assertThat(v.routingHost()).isEqualTo(routingHost);
        assertThat(v.declaredLength()).isEqualTo(-1);
        assertThat(v.hasBody()).isFalse();
    }

    @Test
    void anUnchangedTargetIsPassedOnAsTheSameInstance() {
        HttpRequest r = request("GET /plain/path?q=1 HTTP/1.1", "Host: a");
        Valid v = valid(r, DEFAULTS);
        assertThat(v.originForm()).isSameAs(r.uri());
        assertThat(v.rewriteTarget()).isFalse();
    }

    @Test
    void theBodyIsDeclaredByContentLengthOrTransferEncoding() {
        Valid ten = valid(request("POST /x HTTP/1.1", "Host: a", "Content-Length: 10"), DEFAULTS);
        assertThat(ten.declaredLength()).isEqualTo(10);
        assertThat(ten.hasBody()).isTrue();
        Valid zero = valid(request("POST /x HTTP/1.1", "Host: a", "Content-Length: 0"), DEFAULTS);
        assertThat(zero.declaredLength()).isZero();
        assertThat(zero.hasBody()).isFalse();
        Valid chunked = valid(request("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: gzip ; q=1, chunked"),
                DEFAULTS);
        assertThat(chunked.declaredLength()).isEqualTo(-1);
        assertThat(chunked.hasBody()).isTrue();
        HttpSettings limited = HttpSettings.builder().maxRequestBodySize(10).build();
        assertThat(valid(request("POST /x HTTP/1.1", "Host: a", "Content-Length: 10"), limited).declaredLength())
                .isEqualTo(10);
    }

    @Test
    void encodedSlashesFollowTheSettings() {
        HttpRequest r = request("GET /x/..%2Fblocked/y HTTP/1.1", "Host: a");
        assertThat(RequestValidator.validate(r, DEFAULTS)).isInstanceOf(Refusal.class);
        HttpSettings decode = HttpSettings.builder().encodedSlashes(HttpSettings.EncodedSlashes.DECODE).build();
        assertThat(valid(r, decode).path()).isEqualTo("/blocked/y");
        HttpSettings keep = HttpSettings.builder().encodedSlashes(HttpSettings.EncodedSlashes.KEEP).build();
        assertThat(valid(r, keep).path()).isEqualTo("/x/..%2Fblocked/y");
        HttpSettings noMerge = HttpSettings.builder().mergeSlashes(false).build();
        assertThat(valid(request("GET //a HTTP/1.1", "Host: a"), noMerge).path()).isEqualTo("//a");
    }

    // ------------------------------------------------------------------ refused

    static Stream<Arguments> refused() {
        String[] many = new String[101];
        many[0] = "Host: a";
        for (int i = 1; i < many.length; i++) {
            many[i] = "X-H" + i + ": v";
        }
        return Stream.of(
                Arguments.of("more header fields than maxHeaderCount", request("GET /x HTTP/1.1", many), 431, "101 header fields"),
                Arguments.of("CONNECT", request("CONNECT h:443 HTTP/1.1", "Host: h:443"), 405, "CONNECT"),
                Arguments.of("Content-Length with Transfer-Encoding", request("POST /x HTTP/1.1", "Host: a",
                        "Content-Length: 5", "Transfer-Encoding: chunked"), 400, "both"),
                Arguments.of("two Content-Length", request("POST /x HTTP/1.1", "Host: a", "Content-Length: 5",
                        "Content-Length: 5"), 400, "more than one Content-Length"),
                Arguments.of("chunked not last", request("POST /x HTTP/1.1", "Host: a",
                        "Transfer-Encoding: chunked, gzip"), 400, "ending in a single chunked"),
                Arguments.of("chunked twice", request("POST /x HTTP/1.1", "Host: a",
                        "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 400, "ending in a single chunked"),
                Arguments.of("Transfer-Encoding on HTTP/1.0", request("POST /x HTTP/1.0", "Host: a",
                        "Transfer-Encoding: chunked"), 400, "HTTP/1.1"),
                Arguments.of("unknown coding", request("POST /x HTTP/1.1", "Host: a",
                        "Transfer-Encoding: identity, chunked"), 501, "does not know"),
                Arguments.of("two Hosts", request("GET /x HTTP/1.1", "Host: a", "Host: b"), 400, "more than one Host"),
                Arguments.of("no Host", request("GET /x HTTP/1.1"), 400, "no Host"),
                Arguments.of("bad Host", request("GET /x HTTP/1.1", "Host: a/b"), 400, "Host 'a/b'"),
                Arguments.of("bad IPv6 Host", request("GET /x HTTP/1.1", "Host: [::1"), 400, "Host '[::1'"),
                Arguments.of("authority-form", request("GET example.com:80 HTTP/1.1", "Host: a"), 400, "request target"),
                Arguments.of("other scheme", request("GET ftp://h/x HTTP/1.1", "Host: a"), 400, "request target"),
                Arguments.of("empty authority", request("GET http:///x HTTP/1.1", "Host: a"), 400, "request target"),
                Arguments.of("userinfo", request("GET http://u@h/x HTTP/1.1", "Host: a"), 400, "request target"),
                Arguments.of("asterisk without OPTIONS", request("GET * HTTP/1.1", "Host: a"), 400, "request target"),
                Arguments.of("encoded slash", request("GET /a%2fb HTTP/1.1", "Host: a"), 400, "request path"),
                Arguments.of("encoded NUL", request("GET /a%00 HTTP/1.1", "Host: a"), 400, "request path"),
                Arguments.of("bad absolute-form path", request("GET http://h/a%zz HTTP/1.1", "Host: a"), 400,
                        "request path"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void aBadRequestIsRefusedWithItsStatus(String name, HttpRequest request, int status, String why) {
        RequestValidator.Verdict v = RequestValidator.validate(request, DEFAULTS);
        assertThat(v).isInstanceOf(Refusal.class);
        Refusal r = (Refusal) v;
        assertThat(r.status().code()).isEqualTo(status);
        assertThat(r.reason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        assertThat(r.why()).contains(why);
    }

    @Test
    void aDeclaredBodyOverTheLimitGets413() {
        HttpSettings limited = HttpSettings.builder().maxRequestBodySize(10).build();
        Refusal r = (Refusal) RequestValidator.validate(request("POST /x HTTP/1.1", "Host: a", "Content-Length: 11"),
                limited);
        assertThat(r.status().code()).isEqualTo(413);
        assertThat(r.why()).contains("11 bytes").contains("limit of 10");
    }

    @Test
    void theFirstFailingCheckDecides() {
        // CONNECT and two Hosts: CONNECT is checked first.
        Refusal r = (Refusal) RequestValidator.validate(request("CONNECT h:1 HTTP/1.1", "Host: a", "Host: b"), DEFAULTS);
        assertThat(r.status().code()).isEqualTo(405);
        // An unknown coding on HTTP/1.0: the framing rule (400) comes before the coding (501).
        r = (Refusal) RequestValidator.validate(request("POST /x HTTP/1.0", "Transfer-Encoding: br, chunked"), DEFAULTS);
        assertThat(r.status().code()).isEqualTo(400);
    }

    @Test
    void theLoggedReasonNeverCarriesMoreThan200CharactersOfTheTarget() {
        Refusal r = (Refusal) RequestValidator.validate(request("GET ftp://" + "x".repeat(5000) + " HTTP/1.1",
                "Host: a"), DEFAULTS);
        assertThat(r.why().length()).isLessThan(260);
    }

    @Test
    void aHeadTheDecoderRefusedMapsToItsStatus() {
        assertThat(RequestValidator.malformed(new TooLongHttpHeaderException("big")).status().code()).isEqualTo(431);
        assertThat(RequestValidator.malformed(new TooLongHttpLineException("long")).status().code()).isEqualTo(414);
        Refusal other = RequestValidator.malformed(new IllegalArgumentException("bare LF"));
        assertThat(other.status().code()).isEqualTo(400);
        assertThat(other.reason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
    }

    @Test
    void routingHostDropsThePortAndLowerCases() {
        assertThat(RequestValidator.routingHost("Example.COM:8443")).isEqualTo("example.com");
        assertThat(RequestValidator.routingHost("[::1]:80")).isEqualTo("::1");
        assertThat(RequestValidator.routingHost("a")).isEqualTo("a");
        assertThat(RequestValidator.routingHost("127.0.0.1:24501")).isEqualTo("127.0.0.1");
        assertThat(RequestValidator.routingHost(" web.example: ")).isEqualTo("web.example");
        assertThat(RequestValidator.routingHost("[::1]")).isEqualTo("::1");
        assertThatThrownBy(() -> RequestValidator.routingHost("a:123456")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("[::1]:123456")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("[::1]x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost(":80")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("a:1:2")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("a/b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("a:x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("[::1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("a:123456")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost("[::1]x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RequestValidator.routingHost(":80")).isInstanceOf(IllegalArgumentException.class);
    }
}
