package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ServerCodec} on an {@link EmbeddedChannel}: Netty's server codec rules (HEAD, interim
 * responses, the pipeline depth, ambiguous request framing), and a response written as bytes
 * keeping the request/response pairing.
 */
class ServerCodecTest {
    private ServerCodec codec = HttpProxyHandler.newServerCodec(HttpSettings.defaults());
    private EmbeddedChannel ch = new EmbeddedChannel(codec);

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    /** Decodes {@code bytes} and returns the request lines (method and URI), releasing everything. */
    private List<String> client(String bytes) {
        ch.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.ISO_8859_1));
        List<String> out = new ArrayList<>();
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof HttpRequest r) {
                out.add(r.method() + " " + r.uri());
            }
            ReferenceCountUtil.release(o);
        }
        return out;
    }

    private static FullHttpResponse response(HttpResponseStatus status, String body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.ISO_8859_1));
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length());
        return r;
    }

    /** Everything written to the wire so far, as text. */
    private String wire() {
        StringBuilder s = new StringBuilder();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            s.append(((ByteBuf) o).toString(StandardCharsets.ISO_8859_1));
            ReferenceCountUtil.release(o);
        }
        return s.toString();
    }

    @Test
    void aResponseWrittenAsBytesAnswersItsRequestSoTheNextEncodedOneFindsItsOwn() {
        assertThat(client("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
                .containsExactly("HEAD /a", "GET /b");
        assertThat(codec.rawAllowed()).isTrue();
        codec.rawResponse();
        codec.writeRaw(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", StandardCharsets.ISO_8859_1),
                ch.newPromise());
        // Were HEAD still queued, the encoder would leave this body out.
        ch.writeOutbound(response(HttpResponseStatus.OK, "hello"));
        assertThat(wire()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                + "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    }

    @Test
    void aResponseToHeadHasNoBodyAndAnInterimResponseAnswersNoRequest() {
        assertThat(client("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")).containsExactly("HEAD /a");
        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
        ch.writeOutbound(response(HttpResponseStatus.OK, "hello"));
        assertThat(wire()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    }

    @Test
    void pastTheDepthLimitTheDecoderFailsAndDropsTheRest() {
        codec = new ServerCodec(HttpProxyHandler.strictConfig(4096, 8192), 2);
        ch.finishAndReleaseAll();
        ch = new EmbeddedChannel(codec);
        assertThat(client("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"))
                .containsExactly("GET /1", "GET /2");
        assertThatThrownBy(() -> client("GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"))
                .isInstanceOf(DecoderException.class).hasMessageContaining("maxPipelineDepth exceeded: 2");
        assertThat(client("GET /4 HTTP/1.1\r\nHost: x\r\n\r\n")).isEmpty();
        assertThat(codec.rawAllowed()).as("the connection closes after the response").isFalse();
        assertThatThrownBy(() -> new ServerCodec(HttpProxyHandler.strictConfig(4096, 8192), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxPipelineDepth: 0 (expected: > 0)");
    }

    @Test
    void aRequestWithAmbiguousFramingClosesTheConnectionAfterItsResponseWhichIsNeverRaw() {
        // Only without RFC 9112's rule, which refuses such a request outright (the proxy's setting).
        codec = new ServerCodec(HttpProxyHandler.strictConfig(4096, 8192).setUseRfc9112TransferEncoding(false), 8);
        ch.finishAndReleaseAll();
        ch = new EmbeddedChannel(codec);
        assertThat(client("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
                .containsExactly("POST /a");
        assertThat(codec.rawAllowed()).isFalse();
        ch.writeOutbound(response(HttpResponseStatus.OK, "hello"));
        ch.runPendingTasks();
        assertThat(wire()).endsWith("hello");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void rawIsNotAllowedOnceTheCodecLeftThePipeline() {
        ch.pipeline().remove(codec);
        assertThat(codec.rawAllowed()).isFalse();
        assertThat(new ServerCodec(HttpProxyHandler.strictConfig(4096, 8192), 1).rawAllowed()).isFalse();
    }
}
