package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The client side's HTTP codec: Netty's request decoder and response encoder in one handler,
 * as Netty's {@code HttpServerCodec} combines them, and with its rules: each final response is
 * paired with its request's method (the decoder queues the method of every request head it
 * decodes, the encoder takes one for every final response head it encodes: a response to HEAD
 * has no body, a 2xx to CONNECT loses Transfer-Encoding); past {@code maxPipelineDepth}
 * requests decoded ahead of their responses the decoder drops the rest and fails; a request
 * that came with both Transfer-Encoding and Content-Length (the decoder drops the latter) closes
 * the connection after its response. Unlike Netty's, a final response may also go to the client
 * as bytes the proxy did not decode ({@link RawRelay}): {@link #writeRaw} writes past the
 * encoder, and {@link #rawResponse} takes that response's method off the queue, so requests and
 * responses stay paired whichever way each response went.
 *
 * <p>Created per client connection ({@link HttpProxyHandler#newServerCodec}); event-loop confined.
 */
public final class ServerCodec extends CombinedChannelDuplexHandler<HttpRequestDecoder, HttpResponseEncoder> {
    /** The methods of the requests decoded and not yet answered, oldest first. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
    private final int maxPipelineDepth;
    /** The connection closes after the response in progress (its request had ambiguous framing). */
    private boolean closeAfterResponse;
    private ChannelHandlerContext ctx;

    ServerCodec(HttpDecoderConfig config, int maxPipelineDepth) {
        if (maxPipelineDepth <= 0) {
            throw new IllegalArgumentException("maxPipelineDepth: " + maxPipelineDepth + " (expected: > 0)");
        }
        this.maxPipelineDepth = maxPipelineDepth;
        init(new Decoder(config), new Encoder());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    /**
     * Whether the next response may go as bytes ({@link #writeRaw}): the codec is in a pipeline,
     * and the encoder has no close to add after it.
     */
    boolean rawAllowed() {
        return ctx != null && !ctx.isRemoved() && !closeAfterResponse;
    }

    /** A final response head went to the client as bytes ({@link #writeRaw}): its request is answered. */
    void rawResponse() {
        methods.poll();
    }

    /** Writes bytes of a response that bypasses the encoder (between two whole responses only). */
    void writeRaw(ByteBuf bytes, ChannelPromise promise) {
        ctx.write(bytes, promise);
    }

    private final class Decoder extends HttpRequestDecoder {
        /** The pipeline got too deep: everything from then on is dropped. */
        private boolean discard;

        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            if (discard) {
                in.skipBytes(in.readableBytes());
                return;
            }
            int before = out.size();
            super.decode(ctx, in, out);
            for (int i = before, n = out.size(); i < n; i++) {
                if (out.get(i) instanceof HttpRequest req) {
                    if (methods.size() >= maxPipelineDepth) {
                        closeAfterResponse = true;
                        discard = true;
                        for (int k = i; k < n; k++) {
                            ReferenceCountUtil.release(out.get(k));
                        }
                        out.clear();
                        throw new IllegalStateException("maxPipelineDepth exceeded: " + maxPipelineDepth);
                    }
                    methods.add(req.method());
                }
            }
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            closeAfterResponse = true;
        }
    }

    private final class Encoder extends HttpResponseEncoder {
        /** The method of the request the response being encoded answers; null if none was queued. */
        private HttpMethod method;

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (closeAfterResponse && msg instanceof LastHttpContent) {
                closeAfterResponse = false;
                promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
            }
            super.write(ctx, msg, promise);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim response answers no request
            }
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
            if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(method) && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
                msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING); // a tunnel has no framing (RFC 9110 9.3.6)
                return;
            }
            super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
        }
    }
}
