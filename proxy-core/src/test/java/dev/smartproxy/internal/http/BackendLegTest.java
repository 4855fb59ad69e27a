package dev.smartproxy.internal.http;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link BackendLeg} on embedded channels: the held writes, failures, reuse and the response relay; no socket. */
class BackendLegTest {
    private final ManagedConnection conn = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM)
            .register(80, new InetSocketAddress("127.0.0.1", 1));
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final EmbeddedChannel client = new EmbeddedChannel();
    private EmbeddedChannel backend;

    private final BackendLeg.Listener listener = new BackendLeg.Listener() {
        @Override
        public void legConnected(BackendLeg leg) {
            events.add("connected");
        }

        @Override
        public void legFailed(BackendLeg leg, CloseReason why, Throwable cause) {
            events.add("failed " + why);
        }

        @Override
        public void legRead(BackendLeg leg, Object msg) {
            events.add("read");
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void legBroken(BackendLeg leg, String why) {
            events.add("broken: " + why);
        }

        @Override
        public void legResponseComplete(BackendLeg leg) {
            events.add("complete");
        }

        @Override
        public void legSwitched(BackendLeg leg, Exchange e) {
            events.add("switched");
        }

        @Override
        public void legReadComplete(BackendLeg leg) {
            events.add("read complete");
        }

        @Override
        public void legWritable(BackendLeg leg) {
            events.add("writable");
        }

        @Override
        public void legInactive(BackendLeg leg) {
            events.add("inactive " + leg.closeReason());
        }
    };

    @AfterEach
    void tearDown() {
        for (EmbeddedChannel ch : new EmbeddedChannel[] {client, backend}) {
            if (ch != null) {
                ch.finishAndReleaseAll();
            }
        }
    }

    private BackendLeg leg(HttpRoute.Forward target) {
        BackendLeg l = new BackendLeg(listener, conn, client, target);
        backend = new EmbeddedChannel(l);
        l.attach(backend.newSucceededFuture());
        return l;
    }

    private BackendLeg failingLeg(Throwable cause) {
        BackendLeg l = new BackendLeg(listener, conn, client, new HttpRoute.Forward("r", "b", 80));
        backend = new EmbeddedChannel(l);
        ChannelFuture failed = backend.newFailedFuture(cause);
        l.attach(failed);
        return l;
    }

    private static HttpContent content(String s) {
        return new DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    }

    private static Exchange exchange(HttpVersion version) {
        HttpRequest r = new DefaultHttpRequest(version, HttpMethod.GET, "/");
        return new Exchange(r, false);
    }

    // ------------------------------------------------------------------ connect and writes

    /** Counts the flushes that reach a channel's outbound side. */
    private static final class FlushCounter extends io.netty.channel.ChannelOutboundHandlerAdapter {
        int flushes;

        @Override
        public void flush(io.netty.channel.ChannelHandlerContext ctx) {
            flushes++;
            ctx.flush();
        }
    }

    @Test
    void aResponseIsFlushedToTheClientOnceAndEmptyFlushesAreSkippedOnBothSides() {
        FlushCounter clientFlushes = new FlushCounter();
        client.pipeline().addFirst(clientFlushes);
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        FlushCounter backendFlushes = new FlushCounter();
        backend.pipeline().addFirst(backendFlushes);
        l.watchConnect();
        l.start();
        int afterStart = backendFlushes.flushes;
        l.write(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
        l.write(LastHttpContent.EMPTY_LAST_CONTENT);
        l.flush();
        l.flush(); // nothing new written: not passed on
        assertThat(backendFlushes.flushes).isEqualTo(afterStart + 1);
        assertThat(backend.outboundMessages()).hasSize(2);

        Exchange e = exchange(HttpVersion.HTTP_1_1);
        e.leg = l;
        l.relay(e, new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK), false);
        l.relay(e, new DefaultLastHttpContent(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII)), false);
        assertThat(clientFlushes.flushes).isEqualTo(1); // head and body, one flush at the end of the response
        l.flushClient(); // the end of the backend's read: nothing left to flush
        assertThat(clientFlushes.flushes).isEqualTo(1);
        assertThat(client.outboundMessages()).hasSize(2);
        assertThat(events).contains("complete");
    }

    @Test
    void writesAreHeldUntilTheLegStartsThenWrittenInOrder() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        assertThat(l.write(content("one"))).isTrue();
        assertThat(l.write(content("two"))).isTrue();
        l.flush();
        assertThat(backend.outboundMessages()).isEmpty();
        assertThat(l.acceptsWrites()).isFalse();

        l.watchConnect();
        assertThat(events).containsExactly("connected");
        l.start();
        assertThat(l.acceptsWrites()).isTrue();
        for (String expected : List.of("one", "two")) {
            HttpContent c = backend.readOutbound();
            assertThat(c.content().toString(StandardCharsets.US_ASCII)).isEqualTo(expected);
            c.release();
        }
        assertThat(l.write(content("three"))).isTrue();
        l.flush();
        HttpContent three = backend.readOutbound();
        three.release();
    }

    @Test
    void aFailedConnectIsClassifiedAndReleasesWhatWasHeld() {
        BackendLeg l = failingLeg(new ConnectException("Connection refused"));
        HttpContent held = content("held");
        l.write(held);
        l.watchConnect();
        assertThat(events).contains("failed " + CloseReason.CONNECT_REFUSED);
        assertThat(held.refCnt()).isZero();
        assertThat(backend.isOpen()).isFalse();
    }

    @Test
    void anErrorOnTheLegIsItsCloseReason() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        HttpContent held = content("held");
        l.write(held);
        backend.pipeline().fireExceptionCaught(new IOException("Connection reset by peer"));
        assertThat(backend.isOpen()).isFalse();
        assertThat(events).containsExactly("inactive " + CloseReason.BACKEND_RESET);
        assertThat(held.refCnt()).isZero();
    }

    @Test
    void aDefectOnTheLegReadsAsTheBackendClosing() {
        leg(new HttpRoute.Forward("r", "b", 80));
        backend.pipeline().fireExceptionCaught(new IllegalStateException("a bug"));
        assertThat(events).containsExactly("inactive " + CloseReason.BACKEND_CLOSED);
    }

    @Test
    void aLegIsReusedOnlyForTheSameTargetWhileOpen() throws Exception {
        SslContext tls = SslContextBuilder.forClient().build();
        BackendLeg l = leg(new HttpRoute.Forward("r", "Backend.Example", 8080, tls, "sni"));
        assertThat(l.reusableFor(new HttpRoute.Forward("other-route", "backend.example", 8080, tls, "sni"))).isTrue();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8081, tls, "sni"))).isFalse();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "other.example", 8080, tls, "sni"))).isFalse();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8080, tls, "other"))).isFalse();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8080, tls, "sni",
                dev.smartproxy.route.ProxyProtocol.V2))).as("a leg opened without a PROXY header").isFalse();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8080))).isFalse();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8080,
                SslContextBuilder.forClient().build(), "sni"))).isFalse();
        l.start();
        backend.close();
        assertThat(l.reusableFor(new HttpRoute.Forward("r", "backend.example", 8080, tls, "sni"))).isFalse();
    }

    @Test
    void readsAndWritabilityGoToTheListener() {
        leg(new HttpRoute.Forward("r", "b", 80));
        backend.writeInbound(content("x"));
        assertThat(events).containsExactly("read", "read complete");
    }

    // ------------------------------------------------------------------ the response relay

    @Test
    void aResponseIsRelayedAndItsEndReported() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        Exchange e = exchange(HttpVersion.HTTP_1_1);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set("Content-Length", "2").set("Connection", "X-Hop").set("X-Hop", "1");
        l.relay(e, head, false);
        assertThat(e.responseStarted).isTrue();
        l.relay(e, new DefaultLastHttpContent(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII)), false);
        assertThat(e.responseComplete).isTrue();
        assertThat(events).containsExactly("complete");
        HttpResponse out = client.readOutbound();
        assertThat(out.headers().names()).containsExactly("Content-Length");
        LastHttpContent body = client.readOutbound();
        assertThat(body.content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
        body.release();
    }

    @Test
    void interimHeadsAreRelayedWithoutStartingTheResponseUpToTheCap() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        Exchange e = exchange(HttpVersion.HTTP_1_1);
        for (int i = 0; i < HttpProxyHandler.MAX_INTERIM_HEADS; i++) {
            l.relay(e, new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE), false);
            l.relay(e, LastHttpContent.EMPTY_LAST_CONTENT, false);
        }
        assertThat(e.responseStarted).isFalse();
        assertThat(events).isEmpty();
        client.flush();
        assertThat(client.outboundMessages()).hasSize(2 * HttpProxyHandler.MAX_INTERIM_HEADS);
        l.relay(e, new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE), false);
        assertThat(events).containsExactly("broken: more than 64 interim responses to one request");
    }

    @Test
    void anHttp10ClientGetsNoInterimHeads() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        Exchange e = exchange(HttpVersion.HTTP_1_0);
        l.relay(e, new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.EARLY_HINTS), false);
        l.relay(e, LastHttpContent.EMPTY_LAST_CONTENT, false);
        client.flush();
        assertThat(client.outboundMessages()).isEmpty();
    }

    @Test
    void theBackendPausesWhileTheClientIsFullAndResumes() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        client.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1, 2));
        ByteBuf filler = Unpooled.wrappedBuffer(new byte[16]);
        client.write(filler); // unflushed: the client is over its high water mark
        assertThat(client.isWritable()).isFalse();
        l.relay(exchange(HttpVersion.HTTP_1_1), new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.CONTINUE), false);
        assertThat(backend.config().isAutoRead()).isFalse();
        l.resume();
        assertThat(backend.config().isAutoRead()).isTrue();
    }

    @Test
    void brokenResponsesAreReportedNotRelayed() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        l.relay(exchange(HttpVersion.HTTP_1_1), content("early"), false);
        l.relay(exchange(HttpVersion.HTTP_1_1), new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(2000)), false);
        l.relay(exchange(HttpVersion.HTTP_1_1), new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.SWITCHING_PROTOCOLS), false);
        HttpResponse te = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        te.headers().set("Transfer-Encoding", "identity").set("Content-Length", "5");
        l.relay(exchange(HttpVersion.HTTP_1_1), te, false);
        l.relay(exchange(HttpVersion.HTTP_1_1), "not http", false);
        assertThat(events).containsExactly("broken: content before a response",
                "broken: status 2000 (expected: 100..599)",
                "broken: 101 to a request that asked no WebSocket upgrade",
                "broken: Transfer-Encoding [identity] with Content-Length or not ending in chunked",
                "broken: unexpected String");
        client.flush();
        assertThat(client.outboundMessages()).isEmpty();
    }

    @Test
    void anAcceptedSwitchIsReportedAtTheEndOfTheHead() {
        BackendLeg l = leg(new HttpRoute.Forward("r", "b", 80));
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/ws");
        r.headers().set("Upgrade", "websocket").set("Connection", "Upgrade")
                .set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
        Exchange e = new Exchange(r, false);
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        head.headers().set("Upgrade", "websocket").set("Connection", "Upgrade")
                .set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        l.relay(e, head, false);
        assertThat(e.upgradePending).isTrue();
        assertThat(events).isEmpty();
        l.relay(e, LastHttpContent.EMPTY_LAST_CONTENT, false);
        assertThat(events).containsExactly("switched");
    }
}
