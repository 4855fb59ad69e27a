package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.pipeline.ClientHelloParser.MalformedClientHelloException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLParameters;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The strict ClientHello parser, fed real ClientHellos made by the JDK's {@link SSLEngine} and
 * corrupted copies of them.
 */
class ClientHelloParserTest {
    private static final int RECORD_HEADER = 5;
    private static final int HANDSHAKE_HEADER = 4;

    private static SSLContext context;
    private static byte[] withSni;    // handshake body of a ClientHello with SNI "a.test"
    private static byte[] withoutSni; // handshake body of a ClientHello without SNI

    @BeforeAll
    static void makeClientHellos() throws Exception {
        context = SSLContext.getInstance("TLS");
        context.init(null, null, null);
        withSni = body(record(List.of(new SNIHostName("a.test"))));
        withoutSni = body(record(null));
    }

    /** One TLS record holding a ClientHello, from a client-mode engine's first wrap. */
    static byte[] record(List<SNIServerName> serverNames) throws Exception {
        SSLEngine engine = context.createSSLEngine(); // no peer host: SNI only if set below
        engine.setUseClientMode(true);
        if (serverNames != null) {
            SSLParameters params = engine.getSSLParameters();
            params.setServerNames(serverNames);
            engine.setSSLParameters(params);
        }
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        SSLEngineResult result = engine.wrap(ByteBuffer.allocate(0), out);
        assertThat(result.bytesProduced()).isPositive();
        engine.closeOutbound();
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    /** The handshake body of a record holding exactly one ClientHello. */
    static byte[] body(byte[] record) {
        int len = record.length;
        assertThat(record[0]).as("content type handshake").isEqualTo((byte) 22);
        assertThat(u16(record, 3)).as("record length").isEqualTo(len - RECORD_HEADER);
        assertThat(record[5]).as("handshake type client_hello").isEqualTo((byte) 1);
        int hsLen = ((record[6] & 0xff) << 16) | u16(record, 7);
        assertThat(hsLen).as("handshake length").isEqualTo(len - RECORD_HEADER - HANDSHAKE_HEADER);
        // The body exactly as a ByteBuf would be handed to the parser: wrappedBuffer(bytes, 9, len - 9).
        return Arrays.copyOfRange(record, RECORD_HEADER + HANDSHAKE_HEADER, len);
    }

    /** Parses {@code body} from a wrapped buffer and releases it. */
    static String sni(byte[] body) throws MalformedClientHelloException {
        ByteBuf buf = Unpooled.wrappedBuffer(body);
        try {
            return ClientHelloParser.sniHostName(buf);
        } finally {
            buf.release();
        }
    }

    static void assertMalformed(byte[] body) {
        assertThatThrownBy(() -> sni(body)).isInstanceOf(MalformedClientHelloException.class);
    }

    static int u16(byte[] b, int i) {
        return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }

    static void putU16(byte[] b, int i, int v) {
        b[i] = (byte) (v >>> 8);
        b[i + 1] = (byte) v;
    }

    // ---- a small independent walker over the body, to find the fields to corrupt ----

    static final int SESSION_ID_LEN = 34;

    static int cipherSuitesLenAt(byte[] b) {
        return SESSION_ID_LEN + 1 + (b[SESSION_ID_LEN] & 0xff);
    }

    static int compressionLenAt(byte[] b) {
        int p = cipherSuitesLenAt(b);
        return p + 2 + u16(b, p);
    }

    static int extensionsLenAt(byte[] b) {
        int p = compressionLenAt(b);
        return p + 1 + (b[p] & 0xff);
    }

    /** Each extension, header included, in order. */
    static List<byte[]> extensions(byte[] b) {
        int p = extensionsLenAt(b);
        int end = p + 2 + u16(b, p);
        assertThat(end).isEqualTo(b.length);
        p += 2;
        List<byte[]> exts = new ArrayList<>();
        while (p < end) {
            int len = u16(b, p + 2);
            exts.add(Arrays.copyOfRange(b, p, p + 4 + len));
            p += 4 + len;
        }
        return exts;
    }

    static int type(byte[] ext) {
        return u16(ext, 0);
    }

    /** The body with its extensions replaced by {@code exts}, lengths fixed. */
    static byte[] withExtensions(byte[] b, List<byte[]> exts) {
        int p = extensionsLenAt(b);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(b, 0, p);
        int total = exts.stream().mapToInt(e -> e.length).sum();
        out.write(total >>> 8);
        out.write(total);
        exts.forEach(out::writeBytes);
        return out.toByteArray();
    }

    /** The body with its server_name extension replaced by {@code ext} (or appended). */
    static byte[] withServerNameExtension(byte[] b, byte[] ext) {
        List<byte[]> exts = new ArrayList<>(extensions(b));
        int i = indexOfServerName(exts);
        if (i < 0) {
            exts.add(0, ext);
        } else {
            exts.set(i, ext);
        }
        return withExtensions(b, exts);
    }

    static int indexOfServerName(List<byte[]> exts) {
        for (int i = 0; i < exts.size(); i++) {
            if (type(exts.get(i)) == 0) {
                return i;
            }
        }
        return -1;
    }

    /** A server_name extension (RFC 6066 3) with the given entries: {type, name bytes...}. */
    static byte[] serverNameExtension(byte[]... entries) {
        ByteArrayOutputStream list = new ByteArrayOutputStream();
        for (byte[] e : entries) {
            list.write(e[0]);
            int len = e.length - 1;
            list.write(len >>> 8);
            list.write(len);
            list.write(e, 1, len);
        }
        byte[] l = list.toByteArray();
        ByteArrayOutputStream ext = new ByteArrayOutputStream();
        ext.write(0);
        ext.write(0);
        ext.write((l.length + 2) >>> 8);
        ext.write(l.length + 2);
        ext.write(l.length >>> 8);
        ext.write(l.length);
        ext.writeBytes(l);
        return ext.toByteArray();
    }

    static byte[] hostName(String name) {
        return hostName(name.getBytes(StandardCharsets.ISO_8859_1));
    }

    static byte[] hostName(byte[] name) {
        byte[] e = new byte[name.length + 1];
        e[0] = 0; // host_name
        System.arraycopy(name, 0, e, 1, name.length);
        return e;
    }

    static byte[] withHost(String name) {
        return withServerNameExtension(withSni, serverNameExtension(hostName(name)));
    }

    // ---- well-formed ClientHellos ----

    @Test
    void jdkClientHelloHasTheExpectedShape() {
        assertThat(indexOfServerName(extensions(withSni))).isNotNegative();
        assertThat(indexOfServerName(extensions(withoutSni))).isNegative();
    }

    @Test
    void extractsSni() throws Exception {
        assertThat(sni(withSni)).isEqualTo("a.test");
    }

    @Test
    void extractsSniFromTheBufferTheWayTheBriefDescribes() throws Exception {
        byte[] rec = record(List.of(new SNIHostName("a.test")));
        ByteBuf buf = Unpooled.wrappedBuffer(rec, RECORD_HEADER + HANDSHAKE_HEADER,
                rec.length - RECORD_HEADER - HANDSHAKE_HEADER);
        try {
            assertThat(ClientHelloParser.sniHostName(buf)).isEqualTo("a.test");
        } finally {
            buf.release();
        }
    }

    @Test
    void sniIsLowerCased() throws Exception {
        byte[] mixed = body(record(List.of(new SNIHostName("Api.Example.COM"))));
        assertThat(sni(mixed)).isEqualTo("api.example.com");
        assertThat(sni(withHost("MiXeD.Example.COM"))).isEqualTo("mixed.example.com");
    }

    @Test
    void trailingDotDropped() throws Exception {
        assertThat(sni(withHost("A.Test."))).isEqualTo("a.test");
    }

    @Test
    void hostNameCharactersAccepted() throws Exception {
        assertThat(sni(withHost("xn--bcher-kva.a_b-c.test9"))).isEqualTo("xn--bcher-kva.a_b-c.test9");
        assertThat(sni(withHost("localhost"))).isEqualTo("localhost");
        String longest = ("a".repeat(62) + ".").repeat(4) + "bcd"; // 255 bytes
        assertThat(longest).hasSize(255);
        assertThat(sni(withHost(longest))).isEqualTo(longest);
    }

    @Test
    void noSniIsNull() throws Exception {
        assertThat(sni(withoutSni)).isNull();
    }

    @Test
    void emptyServerNameListIsNoSni() throws Exception {
        // server_name with empty extension_data: what a ServerHello sends; tolerated as "no name".
        assertThat(sni(withServerNameExtension(withSni, new byte[] {0, 0, 0, 0}))).isNull();
    }

    @Test
    void noExtensionsIsNoSni() throws Exception {
        byte[] b = Arrays.copyOf(withSni, extensionsLenAt(withSni));
        assertThat(sni(b)).isNull();
    }

    @Test
    void indexesAreNotChangedAndReaderIndexIsHonoured() throws Exception {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(withSni.length + 16);
        try {
            buf.writeBytes(new byte[] {1, 2, 3, 4, 5, 6, 7});
            buf.writeBytes(withSni);
            buf.readerIndex(7);
            assertThat(ClientHelloParser.sniHostName(buf)).isEqualTo("a.test");
            assertThat(buf.readerIndex()).isEqualTo(7);
            assertThat(buf.writerIndex()).isEqualTo(7 + withSni.length);
        } finally {
            buf.release();
        }
        assertThat(buf.refCnt()).isZero();
    }

    @Test
    void compositeBufferAcrossComponents() throws Exception {
        CompositeByteBuf buf = PooledByteBufAllocator.DEFAULT.compositeDirectBuffer();
        try {
            int half = withSni.length / 2;
            ByteBuf a = PooledByteBufAllocator.DEFAULT.directBuffer(half).writeBytes(withSni, 0, half);
            ByteBuf b = PooledByteBufAllocator.DEFAULT.heapBuffer(withSni.length - half)
                    .writeBytes(withSni, half, withSni.length - half);
            buf.addComponents(true, a, b); // the composite now owns a and b
            assertThat(ClientHelloParser.sniHostName(buf)).isEqualTo("a.test");
        } finally {
            buf.release();
        }
        assertThat(buf.refCnt()).isZero();
    }

    // ---- malformed: truncation ----

    @Test
    void everyTruncationIsMalformedExceptTheNoExtensionsBoundary() throws Exception {
        int noExtensions = extensionsLenAt(withSni);
        for (int n = 0; n < withSni.length; n++) {
            byte[] cut = Arrays.copyOf(withSni, n);
            if (n == noExtensions) {
                assertThat(sni(cut)).as("cut at %d (no extensions)", n).isNull();
                continue;
            }
            final int at = n;
            assertThatThrownBy(() -> sni(cut)).as("cut at %d of %d", at, withSni.length)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
    }

    @Test
    void emptyBodyIsMalformed() {
        assertMalformed(new byte[0]);
    }

    // ---- malformed: bad lengths ----

    @Test
    void sessionIdLongerThan32IsMalformed() {
        byte[] b = withSni.clone();
        b[SESSION_ID_LEN] = 33;
        assertMalformed(b);
    }

    @Test
    void sessionIdLengthPastTheEndIsMalformed() {
        byte[] b = Arrays.copyOf(withSni, SESSION_ID_LEN + 10);
        b[SESSION_ID_LEN] = 32;
        assertMalformed(b);
    }

    @Test
    void badCipherSuiteLengthsAreMalformed() {
        int at = cipherSuitesLenAt(withSni);
        for (int bad : new int[] {0, 1, u16(withSni, at) + 1, u16(withSni, at) - 1, 0xFFFE, 0xFFFF}) {
            byte[] b = withSni.clone();
            putU16(b, at, bad);
            assertThatThrownBy(() -> sni(b)).as("cipher_suites length %d", bad)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
    }

    @Test
    void emptyCompressionMethodsIsMalformed() {
        byte[] b = withSni.clone();
        int at = compressionLenAt(withSni);
        assertThat(b[at]).isEqualTo((byte) 1);
        b[at] = 0;
        assertMalformed(b);
    }

    @Test
    void extensionsLengthMustFillTheMessage() {
        int at = extensionsLenAt(withSni);
        int len = u16(withSni, at);
        for (int bad : new int[] {len - 1, len + 1, 0, 1, 0xFFFF}) {
            byte[] b = withSni.clone();
            putU16(b, at, bad);
            assertThatThrownBy(() -> sni(b)).as("extensions length %d", bad)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
    }

    @Test
    void trailingBytesAreMalformed() {
        assertMalformed(Arrays.copyOf(withSni, withSni.length + 1));
        byte[] twoMore = Arrays.copyOf(withSni, withSni.length + 4);
        assertMalformed(twoMore);
    }

    @Test
    void extensionLengthOverflowingIsMalformed() {
        List<byte[]> exts = extensions(withSni);
        int i = indexOfServerName(exts);
        for (int bad : new int[] {0xFFFF, exts.get(i).length - 4 + 1}) {
            List<byte[]> copy = new ArrayList<>(exts);
            byte[] ext = exts.get(i).clone();
            putU16(ext, 2, bad);
            copy.set(i, ext);
            byte[] b = withExtensions(withSni, copy);
            assertThatThrownBy(() -> sni(b)).as("server_name extension length %d", bad)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
        // the last extension overflowing the message
        List<byte[]> copy = new ArrayList<>(exts);
        byte[] last = copy.get(copy.size() - 1).clone();
        putU16(last, 2, u16(last, 2) + 1);
        copy.set(copy.size() - 1, last);
        assertMalformed(withExtensions(withSni, copy));
    }

    @Test
    void extensionHeaderCutShortIsMalformed() {
        List<byte[]> exts = new ArrayList<>(extensions(withSni));
        exts.add(new byte[] {0x12, 0x34, 0}); // three bytes: not even a header
        assertMalformed(withExtensions(withSni, exts));
    }

    @Test
    void serverNameListLengthMismatchIsMalformed() {
        byte[] good = serverNameExtension(hostName("a.test"));
        for (int delta : new int[] {-1, 1}) {
            byte[] ext = good.clone();
            putU16(ext, 4, u16(ext, 4) + delta);
            byte[] b = withServerNameExtension(withSni, ext);
            assertThatThrownBy(() -> sni(b)).as("list length %+d", delta)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
        // extension holds a list length of zero
        assertMalformed(withServerNameExtension(withSni, new byte[] {0, 0, 0, 2, 0, 0}));
        // extension too short for the list length field
        assertMalformed(withServerNameExtension(withSni, new byte[] {0, 0, 0, 1, 0}));
    }

    @Test
    void hostNameLengthPastTheListIsMalformed() {
        byte[] ext = serverNameExtension(hostName("a.test"));
        putU16(ext, 7, u16(ext, 7) + 1); // the host_name's own length
        assertMalformed(withServerNameExtension(withSni, ext));
        byte[] cut = serverNameExtension(new byte[] {0, 'a'});
        byte[] shortEntry = Arrays.copyOf(cut, cut.length - 2); // entry header cut to one byte of length
        putU16(shortEntry, 2, shortEntry.length - 4);
        putU16(shortEntry, 4, shortEntry.length - 6);
        assertMalformed(withServerNameExtension(withSni, shortEntry));
    }

    // ---- malformed: duplicates ----

    @Test
    void duplicatedServerNameExtensionIsMalformed() {
        List<byte[]> exts = new ArrayList<>(extensions(withSni));
        byte[] sn = exts.get(indexOfServerName(exts));
        exts.add(sn.clone());
        assertMalformed(withExtensions(withSni, exts));

        List<byte[]> other = new ArrayList<>(extensions(withSni));
        other.add(serverNameExtension(hostName("b.test"))); // a different name: still two extensions
        assertMalformed(withExtensions(withSni, other));
    }

    @Test
    void twoHostNamesInOneListAreMalformed() {
        assertMalformed(withServerNameExtension(withSni,
                serverNameExtension(hostName("a.test"), hostName("b.test"))));
    }

    // ---- malformed: host_name content ----

    @Test
    void emptyHostNameIsMalformed() {
        assertMalformed(withServerNameExtension(withSni, serverNameExtension(hostName(""))));
    }

    @Test
    void nonHostnameBytesAreMalformed() {
        for (String bad : new String[] {"a b.test", "a\u0000.test", "a/b.test", "a:443", "a.test\r\n", "*.a.test",
                "a@b.test", "\u00e9.test", "a\u007f.test"}) {
            byte[] b = withHost(bad);
            assertThatThrownBy(() -> sni(b)).as("host_name %s", bad)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
        byte[] high = withServerNameExtension(withSni, serverNameExtension(hostName(new byte[] {'a', (byte) 0x80})));
        assertMalformed(high);
    }

    @Test
    void badLabelStructureIsMalformed() {
        for (String bad : new String[] {".", "..", ".a.test", "a..test", "a.test.."}) {
            byte[] b = withHost(bad);
            assertThatThrownBy(() -> sni(b)).as("host_name %s", bad)
                    .isInstanceOf(MalformedClientHelloException.class);
        }
    }

    @Test
    void onlyOneTrailingDotIsDropped() {
        // "a.test.." must not come back as "a.test." (the contract: no trailing dot)
        assertMalformed(withHost("a.test.."));
    }

    @Test
    void hostNameLongerThan255IsMalformed() {
        String tooLong = ("a".repeat(62) + ".").repeat(4) + "bcde"; // 256 bytes
        assertThat(tooLong).hasSize(256);
        assertMalformed(withHost(tooLong));
    }

    // ---- robustness: corruption never escapes as another exception ----

    @Test
    void randomCorruptionOnlyEverYieldsANameOrMalformed() {
        SplittableRandom random = new SplittableRandom(20240611L);
        for (int round = 0; round < 3000; round++) {
            byte[] b = (round % 2 == 0 ? withSni : withoutSni).clone();
            int flips = 1 + random.nextInt(4);
            for (int i = 0; i < flips; i++) {
                b[random.nextInt(b.length)] = (byte) random.nextInt(256);
            }
            if (random.nextInt(4) == 0) {
                b = Arrays.copyOf(b, random.nextInt(b.length + 8));
            }
            try {
                String name = sni(b);
                if (name != null) {
                    assertThat(name).isNotEmpty().isLowerCase().doesNotEndWith(".").doesNotStartWith(".")
                            .doesNotContain("..");
                }
            } catch (MalformedClientHelloException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            } catch (RuntimeException e) {
                fail("round " + round + ": " + e + " for " + Arrays.toString(b), e);
            }
        }
    }
}
