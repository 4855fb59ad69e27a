package dev.smartproxy.internal.transport;

import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.route.ProxyProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.local.LocalAddress;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxySSLTLV;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.util.CharsetUtil;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/** The PROXY protocol header out: its encoding (checked by Netty's decoder) and its place before every other byte. */
class ProxyHeaderTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.2", 40000);
    private static final InetSocketAddress LISTENER = new InetSocketAddress("127.0.0.1", 443);

    /** Writes {@code header} and then {@code payload} through a writer; returns everything written, in order. */
    private static ByteBuf written(ProxyHeader header, String payload) {
        EmbeddedChannel ch = new EmbeddedChannel(new ProxyHeaderWriter(header));
        ch.writeOutbound(Unpooled.copiedBuffer(payload, CharsetUtil.US_ASCII));
        assertThat(ch.pipeline().get(PipelineNames.BACKEND_PROXY_HEADER_ENCODER)).as("encoder gone").isNull();
        assertThat(ch.pipeline().get(ProxyHeaderWriter.class)).as("writer gone").isNull();
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        assertThat(ch.finishAndReleaseAll()).isFalse();
        return all;
    }

    /** Decodes the header at the start of {@code wire} with Netty's decoder; the rest must be {@code rest}. */
    private static void decoded(ByteBuf wire, String rest, Consumer<HAProxyMessage> check) {
        EmbeddedChannel decoder = new EmbeddedChannel(new HAProxyMessageDecoder());
        decoder.writeInbound(wire);
        HAProxyMessage m = decoder.readInbound();
        try {
            check.accept(m);
        } finally {
            m.release();
        }
        ByteBuf after = decoder.readInbound();
        if (rest.isEmpty()) {
            assertThat(after).isNull();
        } else {
            assertThat(after.toString(CharsetUtil.US_ASCII)).isEqualTo(rest);
            after.release();
        }
        decoder.finishAndReleaseAll();
    }

    @Test
    void v1IsOneTextLineBeforeTheFirstByte() {
        ByteBuf wire = written(new ProxyHeader(ProxyProtocol.V1, CLIENT, LISTENER, "a.test", true, null), "hello");
        assertThat(wire.toString(CharsetUtil.US_ASCII)).isEqualTo("PROXY TCP4 127.0.0.2 127.0.0.1 40000 443\r\nhello");
        decoded(wire, "hello", m -> {
            assertThat(m.protocolVersion()).isEqualTo(HAProxyProtocolVersion.V1);
            assertThat(m.sourceAddress()).isEqualTo("127.0.0.2");
            assertThat(m.sourcePort()).isEqualTo(40000);
            assertThat(m.destinationPort()).isEqualTo(443);
        });
    }

    @Test
    void v2CarriesTheSniAsAuthorityAndTheTlsFlagWithTheVersion() {
        ByteBuf wire = written(new ProxyHeader(ProxyProtocol.V2, CLIENT, LISTENER, "a.test", true, "TLSv1.3"), "GET /");
        assertThat(ByteBufUtil.hexDump(wire, 0, 12)).as("the v2 signature").isEqualTo("0d0a0d0a000d0a515549540a");
        decoded(wire, "GET /", m -> {
            assertThat(m.protocolVersion()).isEqualTo(HAProxyProtocolVersion.V2);
            assertThat(m.command()).isEqualTo(HAProxyCommand.PROXY);
            assertThat(m.proxiedProtocol()).isEqualTo(HAProxyProxiedProtocol.TCP4);
            assertThat(m.sourceAddress()).isEqualTo("127.0.0.2");
            assertThat(m.destinationAddress()).isEqualTo("127.0.0.1");
            assertThat(m.sourcePort()).isEqualTo(40000);
            assertThat(m.destinationPort()).isEqualTo(443);
            // Netty's decoder lists the SSL TLV's sub-TLVs after it as well
            assertThat(m.tlvs()).extracting(HAProxyTLV::type).containsExactly(HAProxyTLV.Type.PP2_TYPE_AUTHORITY,
                    HAProxyTLV.Type.PP2_TYPE_SSL, HAProxyTLV.Type.PP2_TYPE_SSL_VERSION);
            HAProxyTLV authority = m.tlvs().get(0);
            assertThat(authority.type()).isEqualTo(HAProxyTLV.Type.PP2_TYPE_AUTHORITY);
            assertThat(authority.content().toString(CharsetUtil.UTF_8)).isEqualTo("a.test");
            HAProxySSLTLV ssl = (HAProxySSLTLV) m.tlvs().get(1);
            assertThat(ssl.isPP2ClientSSL()).isTrue();
            assertThat(ssl.isPP2ClientCertConn()).isFalse();
            assertThat(ssl.verify()).isZero();
            assertThat(ssl.encapsulatedTLVs()).singleElement().satisfies(v -> {
                assertThat(v.type()).isEqualTo(HAProxyTLV.Type.PP2_TYPE_SSL_VERSION);
                assertThat(v.content().toString(CharsetUtil.US_ASCII)).isEqualTo("TLSv1.3");
            });
        });
    }

    @Test
    void v2PassthroughHasTheTlsFlagWithoutAVersionAndNoAuthorityWithoutSni() {
        ByteBuf wire = written(new ProxyHeader(ProxyProtocol.V2, CLIENT, LISTENER, null, true, null), "x");
        decoded(wire, "x", m -> assertThat(m.tlvs()).singleElement().satisfies(t -> {
            assertThat(t).isInstanceOf(HAProxySSLTLV.class);
            assertThat(((HAProxySSLTLV) t).isPP2ClientSSL()).isTrue();
            assertThat(((HAProxySSLTLV) t).encapsulatedTLVs()).isEmpty();
        }));
    }

    @Test
    void v2CleartextHasNoTlvs() {
        ByteBuf wire = written(new ProxyHeader(ProxyProtocol.V2, CLIENT, LISTENER, null, false, null), "x");
        assertThat(wire.getUnsignedShort(14)).as("address block length").isEqualTo(12);
        decoded(wire, "x", m -> assertThat(m.tlvs()).isEmpty());
    }

    @Test
    void ipv6AndMixedFamiliesAreSentAsTcp6() {
        InetSocketAddress v6 = new InetSocketAddress("::1", 8443);
        ByteBuf v1 = written(new ProxyHeader(ProxyProtocol.V1, CLIENT, v6, null, false, null), "");
        assertThat(v1.toString(CharsetUtil.US_ASCII)).isEqualTo("PROXY TCP6 ::ffff:127.0.0.2 ::1 40000 8443\r\n");
        v1.release();
        ByteBuf v2 = written(new ProxyHeader(ProxyProtocol.V2, new InetSocketAddress("2001:db8::7", 1), v6, null,
                false, null), "");
        decoded(v2, "", m -> {
            assertThat(m.proxiedProtocol()).isEqualTo(HAProxyProxiedProtocol.TCP6);
            assertThat(m.sourceAddress()).isEqualTo("2001:db8:0:0:0:0:0:7");
            assertThat(m.destinationAddress()).isEqualTo("0:0:0:0:0:0:0:1");
        });
    }

    @Test
    void withoutIpAddressesTheBackendIsToldToUseTheConnectionsOwn() {
        LocalAddress local = new LocalAddress("proxy:443");
        ByteBuf v1 = written(new ProxyHeader(ProxyProtocol.V1, CLIENT, local, null, false, null), "x");
        assertThat(v1.toString(CharsetUtil.US_ASCII)).isEqualTo("PROXY UNKNOWN\r\nx");
        decoded(v1, "x", m -> assertThat(m.proxiedProtocol()).isEqualTo(HAProxyProxiedProtocol.UNKNOWN));
        ByteBuf v2 = written(new ProxyHeader(ProxyProtocol.V2, null, local, "a.test", true, null), "x");
        decoded(v2, "x", m -> {
            assertThat(m.command()).isEqualTo(HAProxyCommand.PROXY);
            assertThat(m.proxiedProtocol()).isEqualTo(HAProxyProxiedProtocol.UNKNOWN);
        });
    }

    @Test
    void theHeaderPrecedesWhatIsWrittenBeforeChannelActiveReachesTheWriter() throws Exception {
        // Netty completes the connect future (a relay's pending bytes are written from its
        // listener) before channelActive: the first write itself must put the header first.
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.pipeline().addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(io.netty.channel.ChannelHandlerContext ctx) {
                ctx.channel().writeAndFlush(Unpooled.copiedBuffer("pending", CharsetUtil.US_ASCII));
                ctx.fireChannelActive();
            }
        });
        ch.pipeline().addLast(PipelineNames.BACKEND_PROXY_HEADER, new ProxyHeaderWriter(
                new ProxyHeader(ProxyProtocol.V1, CLIENT, LISTENER, null, false, null)));
        ch.register();
        ByteBuf first = ch.readOutbound();
        assertThat(first.toString(CharsetUtil.US_ASCII)).isEqualTo("PROXY TCP4 127.0.0.2 127.0.0.1 40000 443\r\n");
        first.release();
        ByteBuf second = ch.readOutbound();
        assertThat(second.toString(CharsetUtil.US_ASCII)).isEqualTo("pending");
        second.release();
        assertThat(ch.pipeline().get(ProxyHeaderWriter.class)).isNull();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }
}
