package dev.smartproxy.internal.pipeline;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A strict parser of a TLS ClientHello handshake body (RFC 8446 4.1.2, RFC 5246 7.4.1.2):
 * every length must be consistent with its container, and the {@code server_name} extension
 * (RFC 6066 3) must be well formed. It only reads; it never changes the buffer's indexes.
 */
final class ClientHelloParser {
    private static final int EXT_SERVER_NAME = 0;
    private static final int NAME_TYPE_HOST = 0;

    private ClientHelloParser() {
    }

    /** Thrown for a ClientHello that does not parse. */
    static final class MalformedClientHelloException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedClientHelloException(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Returns the SNI host name, lower-cased and without a trailing dot, or null when the
     * ClientHello carries none.
     *
     * @param body the handshake body: from {@code legacy_version} to the end of the extensions
     */
    static String sniHostName(ByteBuf body) throws MalformedClientHelloException {
        int p = body.readerIndex();
        int end = body.writerIndex();
        p = skip(body, p, end, 2 + 32, "version and random");
        p = skipVector(body, p, end, 1, 0, 32, "session_id");
        int suites = body.getUnsignedShort(need(p, 2, end, "cipher_suites"));
        if (suites < 2 || (suites & 1) != 0) {
            throw new MalformedClientHelloException("cipher_suites length " + suites);
        }
        p = skip(body, p, end, 2 + suites, "cipher_suites");
        p = skipVector(body, p, end, 1, 1, 255, "compression_methods");
        if (p == end) {
            return null; // no extensions
        }
        int extLen = body.getUnsignedShort(need(p, 2, end, "extensions"));
        p += 2;
        if (p + extLen != end) {
            throw new MalformedClientHelloException("extensions length " + extLen + " does not fill the message");
        }
        String sni = null;
        boolean seen = false;
        while (p < end) {
            need(p, 4, end, "extension header");
            int type = body.getUnsignedShort(p);
            int len = body.getUnsignedShort(p + 2);
            p += 4;
            need(p, len, end, "extension " + type);
            if (type == EXT_SERVER_NAME) {
                if (seen) {
                    throw new MalformedClientHelloException("server_name extension repeated");
                }
                seen = true;
                sni = parseServerName(body, p, p + len);
            }
            p += len;
        }
        return sni;
    }

    private static String parseServerName(ByteBuf b, int p, int end) throws MalformedClientHelloException {
        if (p == end) {
            return null; // empty extension: allowed in a ServerHello; tolerate it here as "no name"
        }
        int listLen = b.getUnsignedShort(need(p, 2, end, "server_name_list"));
        p += 2;
        if (p + listLen != end || listLen == 0) {
            throw new MalformedClientHelloException("server_name_list length " + listLen);
        }
        String host = null;
        while (p < end) {
            int type = b.getUnsignedByte(need(p, 3, end, "server_name"));
            int len = b.getUnsignedShort(p + 1);
            p += 3;
            need(p, len, end, "server_name");
            if (type == NAME_TYPE_HOST) {
                if (host != null) {
                    throw new MalformedClientHelloException("two host_name entries");
                }
                host = hostName(b, p, len);
            }
            p += len;
        }
        return host;
    }

    private static String hostName(ByteBuf b, int p, int len) throws MalformedClientHelloException {
        if (len == 0 || len > 255) {
            throw new MalformedClientHelloException("host_name length " + len);
        }
        for (int i = p; i < p + len; i++) {
            int c = b.getUnsignedByte(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_';
            if (!ok) {
                throw new MalformedClientHelloException("host_name has byte 0x" + Integer.toHexString(c));
            }
        }
        String name = b.toString(p, len, StandardCharsets.US_ASCII).toLowerCase(Locale.ROOT);
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.isEmpty() || name.startsWith(".") || name.endsWith(".") || name.contains("..")) {
            throw new MalformedClientHelloException("host_name '" + name + "'");
        }
        return name;
    }

    private static int need(int p, int n, int end, String what) throws MalformedClientHelloException {
        if (n < 0 || p + n > end) {
            throw new MalformedClientHelloException("truncated " + what);
        }
        return p;
    }

    private static int skip(ByteBuf b, int p, int end, int n, String what) throws MalformedClientHelloException {
        need(p, n, end, what);
        return p + n;
    }

    private static int skipVector(ByteBuf b, int p, int end, int lenBytes, int min, int max, String what)
            throws MalformedClientHelloException {
        need(p, lenBytes, end, what);
        int len = lenBytes == 1 ? b.getUnsignedByte(p) : b.getUnsignedShort(p);
        if (len < min || len > max) {
            throw new MalformedClientHelloException(what + " length " + len);
        }
        return skip(b, p + lenBytes, end, len, what);
    }
}
