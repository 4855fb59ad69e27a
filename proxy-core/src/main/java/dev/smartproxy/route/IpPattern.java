package dev.smartproxy.route;

import io.netty.util.NetUtil;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Objects;

/**
 * A client address pattern: one IPv4 or IPv6 address, or a CIDR block.
 *
 * <p>IPv4-mapped IPv6 addresses ({@code ::ffff:10.0.0.1}) are normalised to IPv4 on both
 * sides, so {@code 10.0.0.0/8} matches a client that a dual-stack socket reports as
 * {@code ::ffff:10.1.2.3}. Only literals are accepted: a pattern never triggers a DNS lookup.
 * <pre>{@code
 * IpPattern office = IpPattern.of("192.0.2.0/24");
 * IpPattern host = IpPattern.of("2001:db8::1");
 * }</pre>
 */
public final class IpPattern {
    private final byte[] network;
    private final int prefixLength;
    private final String text;

    private IpPattern(byte[] network, int prefixLength) {
        this.prefixLength = prefixLength;
        this.network = mask(network, prefixLength);
        String addr;
        try {
            addr = InetAddress.getByAddress(this.network).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
        this.text = prefixLength == network.length * 8 ? addr : addr + "/" + prefixLength;
    }

    /**
     * Parses an address or CIDR block such as {@code 10.0.0.1}, {@code 10.0.0.0/8},
     * {@code 2001:db8::/32} or {@code ::ffff:10.0.0.0/104}.
     *
     * @throws IllegalArgumentException if the text is not an IP literal or the prefix is out of range
     */
    public static IpPattern of(String pattern) {
        Objects.requireNonNull(pattern, "clientIps");
        String p = pattern.strip();
        int slash = p.indexOf('/');
        String addrText = slash < 0 ? p : p.substring(0, slash);
        byte[] addr = parseLiteral(addrText);
        if (addr == null) {
            throw new IllegalArgumentException("clientIps: '" + pattern
                    + "' (expected: an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8)");
        }
        int bits = addr.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(p.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("clientIps: '" + pattern + "' prefix (expected: 0.." + bits + ")");
            }
        }
        if (addr.length == 16 && isV4Mapped(addr)) {
            if (prefix < 96) {
                throw new IllegalArgumentException("clientIps: '" + pattern
                        + "' prefix of an IPv4-mapped address (expected: 96..128)");
            }
            return new IpPattern(Arrays.copyOfRange(addr, 12, 16), prefix - 96);
        }
        return new IpPattern(addr, prefix);
    }

    private static byte[] parseLiteral(String text) {
        String t = text;
        if (t.startsWith("[") && t.endsWith("]")) {
            t = t.substring(1, t.length() - 1);
        }
        if (t.isEmpty() || t.indexOf('%') >= 0) {
            return null;
        }
        return NetUtil.createByteArrayFromIpAddressString(t);
    }

    private static boolean isV4Mapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return (a[10] & 0xff) == 0xff && (a[11] & 0xff) == 0xff;
    }

    private static byte[] mask(byte[] addr, int prefix) {
        byte[] out = addr.clone();
        for (int i = 0; i < out.length; i++) {
            int bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (0xff << (8 - bitsHere));
        }
        return out;
    }

    /** Normalises an address: an IPv4-mapped IPv6 address becomes its IPv4 address. */
    static byte[] normalizedBytes(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length == 16 && isV4Mapped(a)) {
            return Arrays.copyOfRange(a, 12, 16);
        }
        return a;
    }

    /** Whether {@code address} is inside this pattern. Addresses of the other family never match. */
    public boolean matches(InetAddress address) {
        if (address == null) {
            return false;
        }
        byte[] a = normalizedBytes(address);
        if (a.length != network.length) {
            return false;
        }
        return Arrays.equals(mask(a, prefixLength), network);
    }

    /** Whether this pattern is an IPv4 pattern. */
    public boolean isIpv4() {
        return network.length == 4;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IpPattern other && prefixLength == other.prefixLength
                && Arrays.equals(network, other.network);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(network) + prefixLength;
    }

    /** The normalised pattern, such as {@code 10.0.0.0/8} or {@code 2001:db8:0:0:0:0:0:1}. */
    @Override
    public String toString() {
        return text;
    }
}
