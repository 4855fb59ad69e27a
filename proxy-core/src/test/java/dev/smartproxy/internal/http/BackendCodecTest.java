package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link BackendCodec} on an {@link EmbeddedChannel}: reads are offered to the raw reader only
 * between two whole responses, and a response taken raw keeps the request/response pairing.
 */
class BackendCodecTest {
    /** Records what it is offered; takes a read whole (answering its request) while {@link #take} is set. */
    private final class Reader implements BackendCodec.Raw {
        final List<String> offered = new ArrayList<>();
        boolean take;
        boolean disposed;

        @Override
        public void dispose() {
            disposed = true;
        }

        @Override
        public ByteBuf rawRead(ByteBuf in) {
            offered.add(in.toString(StandardCharsets.ISO_8859_1));
            if (!take) {
                return null;
            }
            codec.rawResponse();
            in.skipBytes(in.readableBytes());
            return in;
        }
    }

    private final Reader reader = new Reader();
    private final BackendCodec codec = new BackendCodec(HttpProxyHandler.strictConfig(8192, 65536), reader);
    private final EmbeddedChannel ch = new EmbeddedChannel(codec);

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    private void request(HttpMethod method) {
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, "/", Unpooled.EMPTY_BUFFER));
        ReferenceCountUtil.release(ch.readOutbound());
    }

    private void backend(String bytes) {
        ch.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.ISO_8859_1));
    }

    /** The decoded objects read so far, as text: the status of heads, the content of contents, "end" for each last. */
    private List<String> decoded() {
        List<String> out = new ArrayList<>();
        Object o;
        while ((o = ch.readInbound()) != null) {
            try {
                if (o instanceof HttpResponse r) {
                    assertThat(r.decoderResult().isSuccess()).as("decoded %s", r).isTrue();
                    out.add(String.valueOf(r.status().code()));
                }
                if (o instanceof HttpContent c) {
                    assertThat(c.decoderResult().isSuccess()).as("decoded %s", c).isTrue();
                    if (c.content().isReadable()) {
                        out.add(c.content().toString(StandardCharsets.ISO_8859_1));
                    }
                    if (c instanceof LastHttpContent) {
                        out.add("end");
                    }
                }
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return out;
    }

    @Test
    void aResponseTakenRawAnswersItsRequestSoTheNextDecodedOneFindsItsOwn() {
        request(HttpMethod.HEAD);
        reader.take = true;
        backend("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"); // to HEAD: no body
        assertThat(decoded()).isEmpty();
        request(HttpMethod.GET);
        reader.take = false;
        // Were HEAD still queued, this body would be read as the start of a next response, and fail.
        backend("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(decoded()).containsExactly("200", "hello", "end");
    }

    @Test
    void readsAreOfferedOnlyWhileTheDecoderHoldsNoPartOfAResponse() {
        request(HttpMethod.GET);
        request(HttpMethod.GET);
        backend("HTTP/1.1 200 OK\r\nContent-Le");
        backend("ngth: 2\r\n\r\no");
        backend("k");
        assertThat(decoded()).containsExactly("200", "o", "k", "end");
        backend("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        assertThat(decoded()).containsExactly("404", "end");
        assertThat(reader.offered).containsExactly("HTTP/1.1 200 OK\r\nContent-Le",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }

    @Test
    void theReaderIsDisposedWhenTheCodecLeavesItsPipeline() {
        assertThat(reader.disposed).isFalse();
        ch.finishAndReleaseAll();
        assertThat(reader.disposed).as("disposed when the channel closes").isTrue();
    }

    @Test
    void whatARawReadLeavesGoesToTheDecoder() {
        BackendCodec[] self = new BackendCodec[1];
        BackendCodec.Raw firstOnly = new BackendCodec.Raw() {
            boolean done;

            @Override
            public ByteBuf rawRead(ByteBuf in) {
                if (done) {
                    return null;
                }
                done = true;
                self[0].rawResponse();
                in.skipBytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na".length());
                return in;
            }
        };
        BackendCodec c = new BackendCodec(HttpProxyHandler.strictConfig(8192, 65536), firstOnly);
        self[0] = c;
        EmbeddedChannel other = new EmbeddedChannel(c);
        try {
            other.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER));
            other.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.HEAD, "/", Unpooled.EMPTY_BUFFER));
            other.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                    + "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", StandardCharsets.ISO_8859_1));
            HttpResponse head = other.readInbound();
            assertThat(head.status().code()).isEqualTo(200);
            LastHttpContent end = other.readInbound(); // to HEAD: no body, though it says 7 bytes
            assertThat(end.content().readableBytes()).isZero();
            end.release();
            assertThat((Object) other.readInbound()).isNull();
        } finally {
            other.finishAndReleaseAll();
        }
    }

    @Test
    void anInterimResponseAnswersNoRequest() {
        request(HttpMethod.HEAD);
        backend("HTTP/1.1 100 Continue\r\n\r\n");
        // To HEAD: no body. Had the 100 taken HEAD off the queue, 5 bytes would be awaited.
        backend("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        assertThat(decoded()).containsExactly("100", "end", "200", "end");
    }
}
