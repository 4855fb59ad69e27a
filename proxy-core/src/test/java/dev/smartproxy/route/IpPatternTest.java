package dev.smartproxy.route;

import io.netty.util.NetUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IpPatternTest {

    /** An address from a literal, never via DNS. */
    static InetAddress ip(String literal) {
        byte[] b = NetUtil.createByteArrayFromIpAddressString(literal);
        assertThat(b).as("literal %s", literal).isNotNull();
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * A genuine IPv4-mapped {@link Inet6Address}, as a dual-stack socket reports it
     * ({@code InetAddress.getByAddress} would turn it into an Inet4Address).
     */
    static InetAddress mapped(String v4) {
        byte[] v4b = NetUtil.createByteArrayFromIpAddressString(v4);
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(v4b, 0, b, 12, 4);
        try {
            InetAddress a = Inet6Address.getByAddress(null, b, -1);
            assertThat(a).isInstanceOf(Inet6Address.class);
            return a;
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void exactIpv4() {
        IpPattern p = IpPattern.of("10.1.2.3");
        assertThat(p.matches(ip("10.1.2.3"))).isTrue();
        assertThat(p.matches(ip("10.1.2.4"))).isFalse();
        assertThat(p.matches(ip("11.1.2.3"))).isFalse();
        assertThat(p.isIpv4()).isTrue();
        assertThat(p).hasToString("10.1.2.3");
    }

    @Test
    void ipv4Cidr() {
        IpPattern p = IpPattern.of("10.0.0.0/8");
        assertThat(p.matches(ip("10.0.0.0"))).isTrue();
        assertThat(p.matches(ip("10.255.255.255"))).isTrue();
        assertThat(p.matches(ip("10.1.2.3"))).isTrue();
        assertThat(p.matches(ip("11.0.0.0"))).isFalse();
        assertThat(p.matches(ip("9.255.255.255"))).isFalse();
        assertThat(p).hasToString("10.0.0.0/8");
    }

    @Test
    void ipv4CidrOnNonByteBoundary() {
        IpPattern p = IpPattern.of("192.168.1.64/26");
        assertThat(p.matches(ip("192.168.1.63"))).isFalse();
        assertThat(p.matches(ip("192.168.1.64"))).isTrue();
        assertThat(p.matches(ip("192.168.1.127"))).isTrue();
        assertThat(p.matches(ip("192.168.1.128"))).isFalse();

        IpPattern q = IpPattern.of("172.16.0.0/12");
        assertThat(q.matches(ip("172.16.0.1"))).isTrue();
        assertThat(q.matches(ip("172.31.255.255"))).isTrue();
        assertThat(q.matches(ip("172.32.0.0"))).isFalse();
        assertThat(q.matches(ip("172.15.255.255"))).isFalse();
    }

    @Test
    void hostBitsAreMaskedOff() {
        IpPattern p = IpPattern.of("10.1.2.3/8");
        assertThat(p).hasToString("10.0.0.0/8");
        assertThat(p).isEqualTo(IpPattern.of("10.0.0.0/8")).hasSameHashCodeAs(IpPattern.of("10.0.0.0/8"));
        assertThat(p.matches(ip("10.200.0.1"))).isTrue();
    }

    @Test
    void fullLengthPrefixIsExact() {
        assertThat(IpPattern.of("10.1.2.3/32")).isEqualTo(IpPattern.of("10.1.2.3"));
        assertThat(IpPattern.of("10.1.2.3/32")).hasToString("10.1.2.3");
        assertThat(IpPattern.of("2001:db8::1/128")).isEqualTo(IpPattern.of("2001:db8::1"));
    }

    @Test
    void zeroPrefixMatchesWholeFamilyOnly() {
        IpPattern any4 = IpPattern.of("0.0.0.0/0");
        assertThat(any4.matches(ip("1.2.3.4"))).isTrue();
        assertThat(any4.matches(ip("255.255.255.255"))).isTrue();
        assertThat(any4.matches(mapped("8.8.8.8"))).isTrue();
        assertThat(any4.matches(ip("2001:db8::1"))).isFalse();

        IpPattern any6 = IpPattern.of("::/0");
        assertThat(any6.matches(ip("2001:db8::1"))).isTrue();
        assertThat(any6.matches(ip("::1"))).isTrue();
        assertThat(any6.matches(ip("1.2.3.4"))).isFalse();
        assertThat(any6.isIpv4()).isFalse();
    }

    @Test
    void exactIpv6() {
        IpPattern p = IpPattern.of("2001:db8::1");
        assertThat(p.matches(ip("2001:db8::1"))).isTrue();
        assertThat(p.matches(ip("2001:0db8:0000:0000:0000:0000:0000:0001"))).isTrue();
        assertThat(p.matches(ip("2001:db8::2"))).isFalse();
        assertThat(p.isIpv4()).isFalse();
    }

    @Test
    void ipv6Cidr() {
        IpPattern p = IpPattern.of("2001:db8::/32");
        assertThat(p.matches(ip("2001:db8::1"))).isTrue();
        assertThat(p.matches(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))).isTrue();
        assertThat(p.matches(ip("2001:db9::"))).isFalse();
        assertThat(p.matches(ip("2001:db7:ffff::"))).isFalse();

        IpPattern q = IpPattern.of("fd00::/7");
        assertThat(q.matches(ip("fc00::1"))).isTrue();
        assertThat(q.matches(ip("fdff::1"))).isTrue();
        assertThat(q.matches(ip("fe00::1"))).isFalse();
    }

    @Test
    void bracketedIpv6Accepted() {
        assertThat(IpPattern.of("[::1]").matches(ip("::1"))).isTrue();
        assertThat(IpPattern.of(" 10.0.0.1 ").matches(ip("10.0.0.1"))).isTrue();
    }

    @Test
    void ipv4MappedClientMatchesIpv4Patterns() {
        InetAddress client = mapped("10.1.2.3");
        assertThat(IpPattern.of("10.0.0.0/8").matches(client)).isTrue();
        assertThat(IpPattern.of("10.1.2.3").matches(client)).isTrue();
        assertThat(IpPattern.of("10.1.2.4").matches(client)).isFalse();
        assertThat(IpPattern.of("192.168.0.0/16").matches(client)).isFalse();
        assertThat(IpPattern.of("2001:db8::/32").matches(client)).isFalse();
    }

    @Test
    void ipv4MappedPatternMatchesIpv4Clients() {
        IpPattern exact = IpPattern.of("::ffff:10.1.2.3");
        assertThat(exact.isIpv4()).isTrue();
        assertThat(exact).isEqualTo(IpPattern.of("10.1.2.3"));
        assertThat(exact.matches(ip("10.1.2.3"))).isTrue();
        assertThat(exact.matches(mapped("10.1.2.3"))).isTrue();
        assertThat(exact.matches(ip("10.1.2.4"))).isFalse();

        IpPattern block = IpPattern.of("::ffff:10.0.0.0/104");
        assertThat(block).isEqualTo(IpPattern.of("10.0.0.0/8"));
        assertThat(block).hasToString("10.0.0.0/8");
        assertThat(block.matches(ip("10.9.9.9"))).isTrue();
        assertThat(block.matches(ip("11.0.0.0"))).isFalse();
    }

    @Test
    void ipv4PatternDoesNotMatchPlainIpv6() {
        assertThat(IpPattern.of("10.0.0.0/8").matches(ip("::a01:203"))).isFalse(); // IPv4-compatible, not mapped
        assertThat(IpPattern.of("0.0.0.0/0").matches(ip("::1"))).isFalse();
    }

    @Test
    void nullAddressMatchesNothing() {
        assertThat(IpPattern.of("0.0.0.0/0").matches(null)).isFalse();
        assertThat(IpPattern.of("::/0").matches(null)).isFalse();
    }

    @Test
    void normalizedBytes() {
        assertThat(IpPattern.normalizedBytes(mapped("10.1.2.3"))).containsExactly(10, 1, 2, 3);
        assertThat(IpPattern.normalizedBytes(ip("10.1.2.3"))).containsExactly(10, 1, 2, 3);
        assertThat(IpPattern.normalizedBytes(ip("::1"))).hasSize(16);
        assertThat(ip("10.1.2.3")).isInstanceOf(Inet4Address.class);
    }

    @Test
    void equalsDistinguishesPrefix() {
        assertThat(IpPattern.of("10.0.0.0/8")).isNotEqualTo(IpPattern.of("10.0.0.0/16"));
        assertThat(IpPattern.of("10.0.0.0/8")).isNotEqualTo(IpPattern.of("10.0.0.0"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "localhost", "example.com", "10.0.0", "10.0.0.256", "1.2.3.4.5", "10.0.0.0/",
            "/8", "10.0.0.0/x", "10.0.0.0/8/8", "2001:db8::g", "fe80::1%eth0", ":::1", "10.0.0.0 /8"})
    void rejectsNonLiterals(String pattern) {
        assertThatThrownBy(() -> IpPattern.of(pattern))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientIps")
                .hasMessageContaining("expected");
    }

    @Test
    void rejectsPrefixOutOfRange() {
        assertThatThrownBy(() -> IpPattern.of("10.0.0.0/33"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientIps").hasMessageContaining("expected: 0..32");
        assertThatThrownBy(() -> IpPattern.of("10.0.0.0/-1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 0..32");
        assertThatThrownBy(() -> IpPattern.of("2001:db8::/129"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientIps").hasMessageContaining("expected: 0..128");
        assertThatThrownBy(() -> IpPattern.of("::ffff:10.0.0.0/95"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientIps").hasMessageContaining("expected: 96..128");
    }

    @Test
    void rejectsNull() {
        assertThatThrownBy(() -> IpPattern.of(null)).isInstanceOf(NullPointerException.class);
    }
}
