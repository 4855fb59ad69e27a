package dev.smartproxy.internal.pipeline;

import dev.smartproxy.testing.TlsClients;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.IpPattern;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PROXY protocol stage on an {@link EmbeddedChannel} running the real accept stage
 * ({@link ProxyChannelInitializer}) with frozen time. The embedded peer's address is
 * {@code 127.0.0.1} (what the transport reports for a channel without a socket address).
 * Routes: on port 80 and 443, a handler route for clients in 203.0.113.0/24 and 2001:db8::/32
 * (it records what it is handed), and a catch-all handler route for everyone else; so which
 * route took the connection shows which client address routing saw.
 */
class ProxyProtocolStageTest {
    private static final byte[] V2_SIG = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final byte[] PAYLOAD = "PAYLOAD after the header\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    private final List<CloseReason> closedWith = new ArrayList<>();
    private final List<ConnectionInfo> handedTo = new ArrayList<>();
    private final ByteArrayOutputStream forwarded = new ByteArrayOutputStream();
    private EmbeddedChannel ch;

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    private Route.Builder handlerRoute(String name, int port, String... clientIps) {
        return Route.named(name).match(m -> {
            m.ports(port);
            if (clientIps.length > 0) {
                m.clientIps(clientIps);
            }
            if (port == 443) {
                m.domains("a.test");
            }
        }).handle(info -> {
            handedTo.add(info);
            return new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf b = (ByteBuf) msg;
                    byte[] bytes = new byte[b.readableBytes()];
                    b.readBytes(bytes);
                    forwarded.writeBytes(bytes);
                    b.release();
                }
            };
        });
    }

    /** A connection on {@code port} through the accept stage, with {@code trusted} proxies on both ports. */
    private EmbeddedChannel accept(int port, String... trusted) throws Exception {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
            @Override
            public void onClosed(ConnectionInfo info) {
                closedWith.add(info.closeReason().orElseThrow());
            }
        }), Clock.systemUTC(), Ticker.SYSTEM);
        RouteTable routes = RouteTable.of(List.of(
                handlerRoute("real", 80, "203.0.113.0/24", "2001:db8::/32").build(),
                handlerRoute("peer", 80).priority(-1).build(),
                handlerRoute("real-tls", 443, "203.0.113.0/24").build(),
                handlerRoute("peer-tls", 443).priority(-1).build()));
        ProxyContext px = new ProxyContext(routes, ConnectionPolicy.builder().initialDataTimeout(TIMEOUT).build(),
                registry, Transport.of(IoTransport.NIO));
        List<IpPattern> trust = Arrays.stream(trusted).map(IpPattern::of).toList();
        px.acceptProxyProtocol(Map.of(80, trust, 443, trust));
        ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(new ProxyChannelInitializer(px, port)); // runs at once: the channel is registered
        return ch;
    }

    private void write(byte[]... parts) {
        for (byte[] p : parts) {
            if (!ch.isOpen()) {
                break; // a closed socket reads nothing more
            }
            ch.writeInbound(Unpooled.wrappedBuffer(p));
        }
        ch.runPendingTasks();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] v1(String line) {
        return (line + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** A v2 header: signature, version 2 and {@code command}, {@code familyProtocol}, then {@code body}. */
    static byte[] v2(int command, int familyProtocol, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(16 + body.length);
        b.put(V2_SIG).put((byte) (0x20 | command)).put((byte) familyProtocol).putShort((short) body.length).put(body);
        return b.array();
    }

    static byte[] v2Tcp4(String src, int srcPort, byte[] tlvs) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(12 + tlvs.length);
        b.put(java.net.InetAddress.getByName(src).getAddress()).put(new byte[] {10, 0, 0, 1})
                .putShort((short) srcPort).putShort((short) 443).put(tlvs);
        return v2(1, 0x11, b.array());
    }

    static byte[] tlv(int type, byte[] value) {
        ByteBuffer b = ByteBuffer.allocate(3 + value.length);
        b.put((byte) type).putShort((short) value.length).put(value);
        return b.array();
    }

    /** The TLVs balancers add: AWS's VPC endpoint (0xEA, subtype 1), GCP's PSC id (0xE0), an authority, unknowns. */
    static byte[] cloudTlvs() {
        return concat(
                tlv(0xEA, concat(new byte[] {0x01}, "vpce-08d2bf15fac5001c9".getBytes(StandardCharsets.US_ASCII))),
                tlv(0xE0, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}),
                tlv(0x02, "a.test".getBytes(StandardCharsets.US_ASCII)),
                tlv(0x7F, new byte[40]),
                tlv(0x04, new byte[3])); // NOOP
    }


    private void assertTaken(String route, String client) {
        assertThat(ch.isActive()).as("open").isTrue();
        assertThat(handedTo).hasSize(1);
        assertThat(handedTo.get(0).routeName()).contains(route);
        assertThat(handedTo.get(0).clientAddress()).isEqualTo(inet(client));
        for (String name : List.of(PipelineNames.PROXY_PROTOCOL, PipelineNames.PROXY_DECODER,
                PipelineNames.PROXY_HEADER, PipelineNames.PROXY_UNTRUSTED)) {
            assertThat(ch.pipeline().get(name)).as(name + " gone").isNull();
        }
    }

    private static InetSocketAddress inet(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon).replace("[", "").replace("]", ""),
                Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private void assertRefused(CloseReason reason) {
        assertThat(ch.isOpen()).as("closed").isFalse();
        assertThat(closedWith).containsExactly(reason);
        assertThat(handedTo).as("no route took it").isEmpty();
        assertThat(forwarded.size()).as("nothing forwarded").isZero();
    }

    @Test
    void v1HeaderGivesTheClientAddressToRoutingAndThePayloadFlowsOnUnchanged() throws Exception {
        accept(80, "127.0.0.1");
        write(concat(v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80"), PAYLOAD));
        assertTaken("real", "203.0.113.7:51234");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
    }

    @Test
    void v1Tcp6() throws Exception {
        accept(80, "127.0.0.1");
        write(concat(v1("PROXY TCP6 2001:db8::7 2001:db8::1 51234 80"), PAYLOAD));
        assertTaken("real", "[2001:db8::7]:51234");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
    }

    @Test
    void v2WithCloudAndUnknownTlvsIsReadAndAClientHelloRightBehindItIsPeeked() throws Exception {
        accept(443, "127.0.0.0/8");
        byte[] hello = TlsClients.clientHello("a.test");
        write(concat(v2Tcp4("203.0.113.9", 40001, cloudTlvs()), hello));
        assertTaken("real-tls", "203.0.113.9:40001");
        assertThat(handedTo.get(0).sni()).contains("a.test");
        assertThat(forwarded.toByteArray()).as("the ClientHello, unchanged").isEqualTo(hello);
    }

    @Test
    void v2Ipv6() throws Exception {
        accept(80, "127.0.0.1");
        ByteBuffer body = ByteBuffer.allocate(36);
        body.put(java.net.InetAddress.getByName("2001:db8::42").getAddress()).put(new byte[16])
                .putShort((short) 443).putShort((short) 80);
        write(concat(v2(1, 0x21, body.array()), PAYLOAD));
        assertTaken("real", "[2001:db8::42]:443");
    }

    @Test
    void localCommandAndUnknownFamiliesKeepThePeerAddress() throws Exception {
        accept(80, "127.0.0.1");
        write(concat(v2(0, 0x00, new byte[0]), PAYLOAD)); // LOCAL: the balancer's own health check
        assertTaken("peer", "127.0.0.1:0");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
        tearDown();
        handedTo.clear();
        forwarded.reset();

        accept(80, "127.0.0.1");
        write(concat(v1("PROXY UNKNOWN"), PAYLOAD));
        assertTaken("peer", "127.0.0.1:0");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
        tearDown();
        handedTo.clear();
        forwarded.reset();

        accept(80, "127.0.0.1");
        write(concat(v2(1, 0x00, new byte[0]), PAYLOAD)); // PROXY over AF_UNSPEC
        assertTaken("peer", "127.0.0.1:0");
        tearDown();
        handedTo.clear();

        accept(80, "127.0.0.1");
        write(concat(v2(1, 0x31, new byte[216]), PAYLOAD)); // AF_UNIX: not an IP client
        assertTaken("peer", "127.0.0.1:0");
    }

    @Test
    void aHeaderSplitAcrossReadsByteByByte() throws Exception {
        accept(443, "127.0.0.1");
        byte[] hello = TlsClients.clientHello("a.test");
        byte[] all = concat(v2Tcp4("203.0.113.9", 40001, cloudTlvs()), hello);
        for (byte b : all) {
            write(new byte[] {b});
        }
        assertTaken("real-tls", "203.0.113.9:40001");
        assertThat(forwarded.toByteArray()).isEqualTo(hello);
        tearDown();
        handedTo.clear();
        forwarded.reset();

        accept(80, "127.0.0.1");
        for (byte b : concat(v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80"), PAYLOAD)) {
            write(new byte[] {b});
        }
        assertTaken("real", "203.0.113.7:51234");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
    }

    @Test
    void admissionAndRoutingWaitForTheHeader() throws Exception {
        accept(80, "127.0.0.1");
        write("PROXY TCP4 203.0".getBytes(StandardCharsets.US_ASCII));
        assertThat(handedTo).as("not routed before the header is complete").isEmpty();
        assertThat(ch.pipeline().get(PipelineNames.PROXY_PROTOCOL)).isNotNull();
        write(concat(".113.7 10.0.0.1 51234 80\r\n".getBytes(StandardCharsets.US_ASCII), PAYLOAD));
        assertTaken("real", "203.0.113.7:51234");
    }

    @Test
    void v1LineOverItsCapIsTooLarge() throws Exception {
        accept(80, "127.0.0.1");
        byte[] longLine = ("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80" + " ".repeat(80)).getBytes(StandardCharsets.US_ASCII);
        write(longLine, PAYLOAD);
        assertRefused(CloseReason.PROXY_PROTOCOL_TOO_LARGE);
    }

    @Test
    void theLongestV1LineIsAccepted() throws Exception {
        accept(80, "127.0.0.1");
        // Netty's parser takes no padding, so the longest legal line is the TCP6 one; a v1 line
        // whose CRLF ends at byte 108 exactly is at the cap: the stage lets it through to the parser.
        byte[] atCap = v1("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535");
        assertThat(atCap.length).isLessThanOrEqualTo(ProxyProtocolStage.V1_MAX_HEADER);
        write(concat(atCap, PAYLOAD));
        assertTaken("peer", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    }

    @Test
    void v2OverItsCapIsTooLargeAsSoonAsItsLengthIsRead() throws Exception {
        accept(80, "127.0.0.1");
        byte[] big = v2Tcp4("203.0.113.7", 1, tlv(0x7F, new byte[ProxyProtocolStage.V2_MAX_HEADER]));
        write(Arrays.copyOf(big, 16)); // the fixed part only: its length says too much
        assertRefused(CloseReason.PROXY_PROTOCOL_TOO_LARGE);
    }

    @Test
    void v2AtItsCapIsAccepted() throws Exception {
        accept(80, "127.0.0.1");
        byte[] atCap = v2Tcp4("203.0.113.7", 1, tlv(0x7F, new byte[ProxyProtocolStage.V2_MAX_HEADER - 16 - 12 - 3]));
        assertThat(atCap.length).isEqualTo(ProxyProtocolStage.V2_MAX_HEADER);
        write(concat(atCap, PAYLOAD));
        assertTaken("real", "203.0.113.7:1");
        assertThat(forwarded.toByteArray()).isEqualTo(PAYLOAD);
    }

    @Test
    void aSlowHeaderTimesOutOnTheMovedClock() throws Exception {
        accept(80, "127.0.0.1");
        write("PROXY TCP4 203.0.113.7".getBytes(StandardCharsets.US_ASCII));
        ch.advanceTimeBy(TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertRefused(CloseReason.PROXY_PROTOCOL_TIMEOUT);
    }

    @Test
    void aTimelyHeaderCancelsTheTimeout() throws Exception {
        accept(80, "127.0.0.1");
        write(concat(v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80"), PAYLOAD));
        ch.advanceTimeBy(TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertTaken("real", "203.0.113.7:51234");
    }

    @Test
    void aTrustedPeerWithoutAHeaderIsRefusedAsSoonAsTheFirstByteSaysSo() throws Exception {
        accept(80, "127.0.0.1");
        write("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        assertRefused(CloseReason.PROXY_PROTOCOL_MISSING);
        tearDown();
        closedWith.clear();

        accept(443, "127.0.0.1");
        write(TlsClients.clientHello("a.test"));
        assertRefused(CloseReason.PROXY_PROTOCOL_MISSING);
        tearDown();
        closedWith.clear();

        accept(80, "127.0.0.1");
        write("PROXYY".getBytes(StandardCharsets.US_ASCII)); // "PROXY" without its space
        assertRefused(CloseReason.PROXY_PROTOCOL_MISSING);
    }

    @Test
    void malformedHeadersAreInvalid() throws Exception {
        for (byte[] bad : List.of(
                v1("PROXY TCP4 999.0.113.7 10.0.0.1 51234 80"),
                v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234"),
                v1("PROXY TCP4 203.0.113.7 10.0.0.1 70000 80"),
                v1("PROXY TCP5 203.0.113.7 10.0.0.1 51234 80"),
                v1("PROXY TCP4 2001:db8::1 10.0.0.1 51234 80"),
                v2(1, 0x11, new byte[5]), // addresses cut short
                concat(Arrays.copyOf(V2_SIG, 12), new byte[] {0x31, 0x11, 0, 12}, new byte[12]), // version 3
                v2(0x0F, 0x11, new byte[12]))) { // command 15
            accept(80, "127.0.0.1");
            write(concat(bad, PAYLOAD));
            assertRefused(CloseReason.PROXY_PROTOCOL_INVALID);
            tearDown();
            closedWith.clear();
        }
        ch = null;
    }

    @Test
    void finBeforeAnyByteIsAnOrdinaryCloseAndWithinTheHeaderInvalid() throws Exception {
        accept(80, "127.0.0.1");
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertRefused(CloseReason.CLIENT_CLOSED);
        tearDown();
        closedWith.clear();

        accept(80, "127.0.0.1");
        write("PROXY TCP4".getBytes(StandardCharsets.US_ASCII));
        ch.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertRefused(CloseReason.PROXY_PROTOCOL_INVALID);
    }

    @Test
    void anUntrustedPeersHeaderIsRefusedAndItsOtherBytesFlowOnAsADirectClient() throws Exception {
        accept(80, "10.0.0.0/8");
        write(concat(v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80"), PAYLOAD));
        assertThat(ch.isOpen()).isFalse();
        assertThat(closedWith).containsExactly(CloseReason.PROXY_PROTOCOL_UNTRUSTED);
        assertThat(forwarded.size()).isZero();
        tearDown();
        closedWith.clear();
        handedTo.clear();

        accept(80, "10.0.0.0/8");
        write(Arrays.copyOf(v2Tcp4("203.0.113.7", 1, new byte[0]), 5), new byte[] {0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        assertThat(closedWith).containsExactly(CloseReason.PROXY_PROTOCOL_UNTRUSTED);
        assertThat(forwarded.size()).isZero();
        tearDown();
        closedWith.clear();
        handedTo.clear();

        accept(80, "10.0.0.0/8");
        assertThat(handedTo).as("a direct client is routed at accept, on its own address").hasSize(1);
        write("PRO".getBytes(StandardCharsets.US_ASCII)); // a prefix of a signature: held
        assertThat(forwarded.size()).isZero();
        write("BE me\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTaken("peer", "127.0.0.1:0");
        assertThat(forwarded.toString(StandardCharsets.US_ASCII)).isEqualTo("PROBE me\r\n");
    }

    /**
     * Fuzz: a few thousand v1 and v2 headers mutated from valid ones (fixed seed), each followed
     * by a payload, in random splits. The stage never throws, a refused header always has a
     * PROXY_PROTOCOL_* reason and nothing is forwarded, an accepted one hands on exactly the bytes
     * after what the parser took, and no buffer leaks (paranoid leak detection).
     */
    @Test
    void fuzzedHeadersNeverForwardOnRefusalNorBreakTheStage() throws Exception {
        Random rnd = new Random(0x5eed_9a11L);
        List<byte[]> seeds = List.of(
                v1("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80"),
                v1("PROXY TCP6 2001:db8::7 2001:db8::1 51234 80"),
                v1("PROXY UNKNOWN"),
                v2Tcp4("203.0.113.9", 40001, cloudTlvs()),
                v2Tcp4("203.0.113.9", 40001, new byte[0]),
                v2(0, 0x00, new byte[0]));
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] h = seeds.get(rnd.nextInt(seeds.size())).clone();
            int mutations = 1 + rnd.nextInt(3);
            for (int m = 0; m < mutations; m++) {
                switch (rnd.nextInt(4)) {
                    case 0 -> h[rnd.nextInt(h.length)] = (byte) rnd.nextInt(256);
                    case 1 -> h[rnd.nextInt(h.length)] ^= (byte) (1 << rnd.nextInt(8));
                    case 2 -> h = Arrays.copyOf(h, Math.max(1, h.length - 1 - rnd.nextInt(h.length)));
                    default -> {
                        int at = rnd.nextInt(h.length);
                        byte[] junk = new byte[1 + rnd.nextInt(300)];
                        rnd.nextBytes(junk);
                        h = concat(Arrays.copyOf(h, at), junk, Arrays.copyOfRange(h, at, h.length));
                    }
                }
            }
            closedWith.clear();
            handedTo.clear();
            forwarded.reset();
            accept(80, "127.0.0.1");
            byte[] all = concat(h, PAYLOAD);
            int cut = rnd.nextInt(all.length + 1);
            write(Arrays.copyOfRange(all, 0, cut), Arrays.copyOfRange(all, cut, all.length));
            ch.advanceTimeBy(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            ch.runScheduledPendingTasks();
            ch.checkException();
            if (handedTo.isEmpty()) {
                refused++;
                assertThat(ch.isOpen()).as("case %d closed", i).isFalse();
                assertThat(closedWith).as("case %d reason", i).hasSize(1);
                assertThat(closedWith.get(0)).as("case %d reason", i)
                        .isIn(EnumSet.of(CloseReason.PROXY_PROTOCOL_TIMEOUT, CloseReason.PROXY_PROTOCOL_INVALID,
                                CloseReason.PROXY_PROTOCOL_MISSING, CloseReason.PROXY_PROTOCOL_TOO_LARGE));
                assertThat(forwarded.size()).as("case %d: nothing forwarded", i).isZero();
            } else {
                accepted++;
                assertThat(ch.isActive()).as("case %d open", i).isTrue();
                byte[] got = forwarded.toByteArray();
                assertThat(got.length).as("case %d: the bytes after the header", i).isLessThanOrEqualTo(all.length);
                assertThat(Arrays.copyOfRange(all, all.length - got.length, all.length)).isEqualTo(got);
            }
            tearDown();
            ch = null;
        }
        assertThat(refused).as("most mutations are refused").isGreaterThan(1000);
        assertThat(accepted).as("some survive (a changed digit, a cut TLV)").isGreaterThan(0);
    }
}
