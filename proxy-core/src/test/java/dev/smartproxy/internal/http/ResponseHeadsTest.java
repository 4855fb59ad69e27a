package dev.smartproxy.internal.http;

import dev.smartproxy.event.CloseReason;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ResponseHeads}: which backend heads are refused and how the rest are rewritten; no channel. */
class ResponseHeadsTest {
    private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";
    private static final String ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    private static Exchange exchange(String method, HttpVersion version, String... headers) {
        HttpRequest r = new DefaultHttpRequest(version, HttpMethod.valueOf(method), "/x");
        for (int i = 0; i < headers.length; i += 2) {
            r.headers().add(headers[i], headers[i + 1]);
        }
        return new Exchange(r, false);
    }

    private static HttpResponse response(int status, String... headers) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
        for (int i = 0; i < headers.length; i += 2) {
            r.headers().add(headers[i], headers[i + 1]);
        }
        return r;
    }

    @ParameterizedTest(name = "TE [{0}] CL [{1}] -> refused {2}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            "chunked       | -  | false",
            "gzip, chunked | -  | false",
            "-             | 5  | false",
            "identity      | 5  | true",
            "chunked       | 5  | true",
            "chunked, gzip | -  | true",
            "identity      | -  | true"})
    void ambiguousFramingIsRefusedNotRepaired(String te, String cl, boolean refused) {
        HttpResponse r = response(200);
        if (te != null) {
            r.headers().add("Transfer-Encoding", te);
        }
        if (cl != null) {
            r.headers().add("Content-Length", cl);
        }
        assertThat(ResponseHeads.checkFinal(r) != null).isEqualTo(refused);
    }

    @Test
    void a101NeedsAnUpgradeRequestAndTheRightAccept() {
        Exchange ws = exchange("GET", HttpVersion.HTTP_1_1, "Upgrade", "websocket", "Connection", "Upgrade",
                "Sec-WebSocket-Key", KEY);
        assertThat(ResponseHeads.checkSwitch(response(101, "Sec-WebSocket-Accept", ACCEPT), ws)).isNull();
        assertThat(ResponseHeads.checkSwitch(response(101), ws)).contains("Sec-WebSocket-Accept");
        assertThat(ResponseHeads.checkSwitch(response(101, "Sec-WebSocket-Accept", "wrong"), ws))
                .contains("Sec-WebSocket-Accept");
        Exchange plain = exchange("GET", HttpVersion.HTTP_1_1);
        assertThat(ResponseHeads.checkSwitch(response(101, "Sec-WebSocket-Accept", ACCEPT), plain))
                .contains("asked no WebSocket upgrade");
        ws.responseStarted = true;
        assertThat(ResponseHeads.checkSwitch(response(101, "Sec-WebSocket-Accept", ACCEPT), ws)).isNotNull();
        assertThat(Exchange.webSocketAccept(KEY)).isEqualTo(ACCEPT);
    }

    @Test
    void a101KeepsOnlyItsUpgradeHeaders() {
        HttpResponse r = response(101, "Upgrade", "websocket", "Connection", "Upgrade, X-Hop", "X-Hop", "1",
                "Keep-Alive", "5", "Sec-WebSocket-Accept", ACCEPT);
        ResponseHeads.prepareSwitch(r);
        assertThat(r.headers().names()).containsExactlyInAnyOrder("Sec-WebSocket-Accept", "connection", "upgrade");
        assertThat(r.headers().get("connection")).isEqualTo("upgrade");
        assertThat(r.headers().get("upgrade")).isEqualTo("websocket");
    }

    @Test
    void aKeptAliveResponseLosesItsHopByHopHeaders() {
        Exchange e = exchange("GET", HttpVersion.HTTP_1_1);
        HttpResponse r = response(200, "Content-Length", "2", "Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "5");
        ResponseHeads.prepareFinal(r, e, false);
        assertThat(r.headers().names()).containsExactly("Content-Length");
        assertThat(e.backendKeepAlive).isTrue();
        assertThat(e.closeAfter).isFalse();
    }

    @Test
    void aBodyEndedByTheBackendsCloseIsChunkedForHttp11AndClosesHttp10() {
        Exchange e11 = exchange("GET", HttpVersion.HTTP_1_1);
        HttpResponse r11 = response(200);
        ResponseHeads.prepareFinal(r11, e11, false);
        assertThat(r11.headers().get("transfer-encoding")).isEqualTo("chunked");
        assertThat(e11.backendKeepAlive).isFalse();
        assertThat(e11.closeAfter).isFalse();

        Exchange e10 = exchange("GET", HttpVersion.HTTP_1_0, "Connection", "keep-alive");
        HttpResponse r10 = response(200);
        ResponseHeads.prepareFinal(r10, e10, false);
        assertThat(r10.headers().contains("transfer-encoding")).isFalse();
        assertThat(e10.closeAfter).isTrue();
        assertThat(e10.closeReason).isEqualTo(CloseReason.BACKEND_CLOSED);
        assertThat(r10.headers().get("connection")).isEqualTo("close");
        assertThat(r10.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
    }

    @Test
    void anHttp10ClientNeverGetsChunkedFraming() {
        Exchange e = exchange("GET", HttpVersion.HTTP_1_0, "Connection", "keep-alive");
        HttpResponse r = response(200, "Transfer-Encoding", "chunked");
        ResponseHeads.prepareFinal(r, e, false);
        assertThat(r.headers().contains("transfer-encoding")).isFalse();
        assertThat(e.closeAfter).isTrue();

        Exchange head = exchange("HEAD", HttpVersion.HTTP_1_0, "Connection", "keep-alive");
        HttpResponse hr = response(200, "Transfer-Encoding", "chunked");
        ResponseHeads.prepareFinal(hr, head, false);
        assertThat(head.closeAfter).isFalse(); // no body follows a HEAD: nothing to delimit
        assertThat(hr.headers().get("connection")).isEqualTo("keep-alive");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"HEAD, 200", "GET, 204", "GET, 304"})
    void bodylessResponsesAreNotReframed(String method, int status) {
        Exchange e = exchange(method, HttpVersion.HTTP_1_1);
        HttpResponse r = response(status);
        ResponseHeads.prepareFinal(r, e, false);
        assertThat(r.headers().contains("transfer-encoding")).isFalse();
        assertThat(e.backendKeepAlive).isTrue();
    }

    @Test
    void theClientsConnectionHeaderSaysWhatHappensNext() {
        Exchange closing = exchange("GET", HttpVersion.HTTP_1_1, "Connection", "close");
        HttpResponse r = response(200, "Content-Length", "0");
        ResponseHeads.prepareFinal(r, closing, false);
        assertThat(r.headers().get("connection")).isEqualTo("close");

        Exchange finned = exchange("GET", HttpVersion.HTTP_1_1);
        HttpResponse f = response(200, "Content-Length", "0");
        ResponseHeads.prepareFinal(f, finned, true);
        assertThat(f.headers().get("connection")).isEqualTo("close");

        Exchange backendClose = exchange("GET", HttpVersion.HTTP_1_1);
        HttpResponse b = response(200, "Content-Length", "0", "Connection", "close");
        ResponseHeads.prepareFinal(b, backendClose, false);
        assertThat(backendClose.backendKeepAlive).isFalse();
        assertThat(b.headers().contains("connection")).isFalse(); // the client's connection stays
    }

    @Test
    void localResponsesCarryTheirStatusAsText() {
        FullHttpResponse closing = ResponseHeads.local(HttpResponseStatus.BAD_GATEWAY, null, false, false);
        try {
            assertThat(closing.content().toString(StandardCharsets.UTF_8)).isEqualTo("502 Bad Gateway\n");
            assertThat(closing.headers().get("content-length")).isEqualTo("16");
            assertThat(closing.headers().get("content-type")).isEqualTo("text/plain; charset=utf-8");
            assertThat(closing.headers().get("connection")).isEqualTo("close");
        } finally {
            closing.release();
        }
        FullHttpResponse redirect = ResponseHeads.local(HttpResponseStatus.PERMANENT_REDIRECT, "https://x/", true, true);
        try {
            assertThat(redirect.headers().get("location")).isEqualTo("https://x/");
            assertThat(redirect.headers().get("connection")).isEqualTo("keep-alive");
        } finally {
            redirect.release();
        }
        FullHttpResponse kept = ResponseHeads.local(HttpResponseStatus.FORBIDDEN, null, true, false);
        try {
            assertThat(kept.headers().contains("connection")).isFalse();
        } finally {
            kept.release();
        }
    }
}
