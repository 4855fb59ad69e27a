package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** A request without a body goes to the backend as one message, which the codec writes as one buffer. */
class WholeRequestTest {

    private static HttpRequest get() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a?b=c");
        r.headers().set("Host", "web.example").set("X-Forwarded-For", "10.0.0.1");
        return r;
    }

    @Test
    void aBodylessRequestGoesWholeAsOneBuffer() {
        Exchange e = new Exchange(get(), false);
        HttpObject out = e.outgoing();
        assertThat(e.forwardsContent()).as("its empty end is not sent again").isFalse();
        assertThat(out).isInstanceOf(FullHttpRequest.class);
        FullHttpRequest full = (FullHttpRequest) out;
        assertThat(full.uri()).isEqualTo("/a?b=c");
        assertThat(full.headers()).isSameAs(e.request.headers()); // the rewritten headers, not a copy
        assertThat(full.content().isReadable()).isFalse();

        EmbeddedChannel backend = new EmbeddedChannel(new HttpClientCodec());
        backend.writeOutbound(out);
        ByteBuf wire = backend.readOutbound();
        assertThat(wire.toString(StandardCharsets.US_ASCII)).isEqualTo(
                "GET /a?b=c HTTP/1.1\r\nHost: web.example\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n");
        wire.release();
        assertThat((Object) backend.readOutbound()).as("one buffer, one write").isNull();
        // The codec is back at a message boundary: the next request on the kept-alive leg encodes.
        backend.writeOutbound(new Exchange(get(), false).outgoing());
        ByteBuf next = backend.readOutbound();
        assertThat(next.toString(StandardCharsets.US_ASCII)).startsWith("GET /a?b=c HTTP/1.1\r\n");
        next.release();
        assertThat(backend.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aRequestWithABodyGoesAsItsHeadAlone() {
        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/");
        post.headers().set("Content-Length", "3");
        Exchange e = new Exchange(post, true);
        assertThat(e.outgoing()).isSameAs(post);
        assertThat(e.forwardsContent()).as("its body follows the head").isTrue();
    }
}
