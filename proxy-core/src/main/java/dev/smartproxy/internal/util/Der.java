package dev.smartproxy.internal.util;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/** Just enough DER to turn PKCS#1 and SEC1 keys into PKCS#8. */
final class Der {
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
            (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    private static final byte[] EC_PUBLIC_KEY_OID = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
    private static final byte[] VERSION_0 = {0x02, 0x01, 0x00};

    private Der() {
    }

    static byte[] wrapPkcs1Rsa(byte[] pkcs1) {
        return tlv(0x30, concat(VERSION_0, RSA_ALGORITHM, tlv(0x04, pkcs1)));
    }

    /** SEC1 {@code ECPrivateKey} needs its {@code [0]} named-curve parameters to become PKCS#8. */
    static byte[] wrapSec1Ec(String name, byte[] sec1) {
        byte[] curve = null;
        try {
            int[] outer = header(sec1, 0);
            if (sec1[0] != 0x30) {
                throw new IllegalArgumentException();
            }
            int pos = outer[0];
            int end = outer[0] + outer[1];
            while (pos < end) {
                int tag = sec1[pos] & 0xff;
                int[] h = header(sec1, pos);
                if (tag == 0xa0) {
                    curve = Arrays.copyOfRange(sec1, h[0], h[0] + h[1]);
                }
                pos = h[0] + h[1];
            }
        } catch (RuntimeException e) {
            curve = null;
        }
        if (curve == null || curve.length == 0 || curve[0] != 0x06) {
            throw new IllegalArgumentException(name + ": the EC private key has no named curve"
                    + " (expected: an EC key with its curve, or a PKCS#8 key)");
        }
        return tlv(0x30, concat(VERSION_0, tlv(0x30, concat(EC_PUBLIC_KEY_OID, curve)), tlv(0x04, sec1)));
    }

    /** Returns {content offset, content length} of the TLV at {@code pos}. */
    private static int[] header(byte[] der, int pos) {
        int len = der[pos + 1] & 0xff;
        int off = pos + 2;
        if (len > 0x80) {
            int n = len & 0x7f;
            if (n > 3) {
                throw new IllegalArgumentException("length too long");
            }
            len = 0;
            for (int i = 0; i < n; i++) {
                len = (len << 8) | (der[off++] & 0xff);
            }
        } else if (len == 0x80) {
            throw new IllegalArgumentException("indefinite length");
        }
        if (off + len > der.length) {
            throw new IllegalArgumentException("truncated");
        }
        return new int[] {off, len};
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int len = content.length;
        if (len < 0x80) {
            out.write(len);
        } else if (len < 0x100) {
            out.write(0x81);
            out.write(len);
        } else if (len < 0x10000) {
            out.write(0x82);
            out.write(len >> 8);
            out.write(len);
        } else {
            out.write(0x83);
            out.write(len >> 16);
            out.write(len >> 8);
            out.write(len);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
