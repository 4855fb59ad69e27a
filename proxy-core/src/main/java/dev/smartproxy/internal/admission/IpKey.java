package dev.smartproxy.internal.admission;

import java.net.InetAddress;

/**
 * A client IP as two longs: an IPv6 address as is, an IPv4 address as its IPv4-mapped IPv6 form,
 * so {@code 10.0.0.1} and {@code ::ffff:10.0.0.1} are one key.
 */
record IpKey(long hi, long lo) {
    static IpKey of(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length == 4) {
            return new IpKey(0, 0xffff_0000_0000L | (((a[0] & 0xffL) << 24) | ((a[1] & 0xffL) << 16)
                    | ((a[2] & 0xffL) << 8) | (a[3] & 0xffL)));
        }
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = (hi << 8) | (a[i] & 0xffL);
            lo = (lo << 8) | (a[i + 8] & 0xffL);
        }
        return new IpKey(hi, lo);
    }
}
