package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.ArrayDeque;
import java.util.List;

/**
 * A backend channel's HTTP codec: Netty's request encoder and response decoder in one handler,
 * as Netty's {@code HttpClientCodec} combines them, and like it pairing each response with its
 * request's method (the encoder queues the method of every request head it writes, the decoder
 * takes one for every final response head: a response to HEAD has no body). Unlike it, the bytes of a
 * response may go past the decoder: while the decoder holds nothing (between two whole
 * responses), each read is offered to the {@link Raw} reader first ({@link RawRelay}), which
 * either relays a response itself (and calls {@link #rawResponse}, so that the next decoded
 * response still finds its own request's method) or leaves the read to the decoder.
 *
 * <p>CONNECT, the one other method Netty's codec pairs, never reaches a backend: the proxy
 * answers it 405 ({@link RequestValidator}).
 *
 * <p>Created per backend connection; event-loop confined.
 */
final class BackendCodec extends CombinedChannelDuplexHandler<HttpResponseDecoder, HttpRequestEncoder> {
    /** Takes a read from the backend before the decoder does. */
    interface Raw {
        /**
         * Offered a read while the decoder holds nothing: returns null to leave all of it to the
         * decoder, else takes {@code in} and returns what is left of it for the decoder
         * (possibly empty; released here if so).
         */
        ByteBuf rawRead(ByteBuf in);

        /** The codec leaves its pipeline (the channel closed, or an upgrade): what the reader holds is released. */
        default void dispose() {
        }
    }

    /** The methods of the requests written and not yet answered, oldest first. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);
    private final Raw raw;
    private final Decoder decoder;
    /** The decoder ended its last message (or has none yet): no part of a response is in it. */
    private boolean betweenMessages = true;

    BackendCodec(HttpDecoderConfig config, Raw raw) {
        this.raw = raw;
        this.decoder = new Decoder(config);
        init(decoder, new Encoder());
    }

    /** A response head went by as bytes, past the decoder: its request is answered. */
    void rawResponse() {
        methods.poll();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (raw != null && betweenMessages && msg instanceof ByteBuf in && decoder.holdsNothing()) {
            ByteBuf rest = raw.rawRead(in);
            if (rest != null) {
                if (rest.isReadable()) {
                    super.channelRead(ctx, rest);
                } else {
                    rest.release();
                }
                return;
            }
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        if (raw != null) {
            raw.dispose();
        }
        super.handlerRemoved(ctx);
    }

    private final class Decoder extends HttpResponseDecoder {
        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        boolean holdsNothing() {
            return actualReadableBytes() == 0;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            int before = out.size();
            int from = in.readerIndex();
            super.decode(ctx, in, out);
            int n = out.size();
            if (n > before) {
                betweenMessages = out.get(n - 1) instanceof LastHttpContent;
            } else if (in.readerIndex() != from) {
                betweenMessages = false;
            }
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            if (((HttpResponse) msg).status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim response answers no request
            }
            return HttpMethod.HEAD.equals(methods.poll()) || super.isContentAlwaysEmpty(msg);
        }
    }

    private final class Encoder extends HttpRequestEncoder {
        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpRequest req) {
                methods.add(req.method());
            }
            super.encode(ctx, msg, out);
        }
    }
}
