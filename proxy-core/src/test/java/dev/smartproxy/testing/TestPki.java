package dev.smartproxy.testing;

import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A throwaway certificate authority made at test time (Netty's pkitesting on Bouncy Castle),
 * with server certificates issued on demand, and the TLS contexts built from them.
 */
public final class TestPki {
    private static final TestPki SHARED = new TestPki();

    private final X509Bundle ca;
    private final Map<String, X509Bundle> leaves = new ConcurrentHashMap<>();

    private TestPki() {
        try {
            Instant now = Instant.now();
            ca = new CertificateBuilder().subject("CN=SmartProxy Test CA").setIsCertificateAuthority(true)
                    .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                    .ecp256().buildSelfSigned();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The CA shared by all tests of a JVM. */
    public static TestPki shared() {
        return SHARED;
    }

    /** The CA bundle. */
    public X509Bundle ca() {
        return ca;
    }

    /** A server certificate for {@code dnsName} and {@code x.<dnsName>} (for wildcard routes), issued by the CA. */
    /** A certificate source for the proxy: the shared CA's leaf for {@code dnsName}, as PEM. */
    public static dev.smartproxy.config.CertificateSource certificate(String dnsName) {
        X509Bundle b = shared().leaf(dnsName);
        return dev.smartproxy.config.CertificateSource.pem(b.getCertificatePathPEM(), b.getPrivateKeyPEM());
    }

    public X509Bundle leaf(String dnsName) {
        return leaves.computeIfAbsent(dnsName, n -> {
            try {
                Instant now = Instant.now();
                return new CertificateBuilder().subject("CN=" + n).addSanDnsName(n).addSanDnsName("x." + n)
                        .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                        .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                        .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(ca);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /**
     * A new server certificate for {@code dnsName} (and {@code x.<dnsName>}), issued by the CA
     * with a serial of its own and the given validity; not cached: each call is another
     * certificate for the same name, as a renewal is.
     */
    public X509Bundle issue(String dnsName, Instant notBefore, Instant notAfter) {
        try {
            return new CertificateBuilder().subject("CN=" + dnsName).addSanDnsName(dnsName).addSanDnsName("x." + dnsName)
                    .notBefore(notBefore).notAfter(notAfter)
                    .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature)
                    .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(ca);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@link #issue(String, Instant, Instant)} valid from a day ago for a day. */
    public X509Bundle issue(String dnsName) {
        Instant now = Instant.now();
        return issue(dnsName, now.minus(1, ChronoUnit.DAYS), now.plus(1, ChronoUnit.DAYS));
    }

    /** A server-side context presenting the certificate for {@code dnsName}. */
    public SSLContext serverContext(String dnsName) {
        try {
            KeyManagerFactory kmf = leaf(dnsName).toKeyManagerFactory();
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A client-side context that trusts only the test CA. */
    public SSLContext clientContext() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, ca.toTrustManagerFactory().getTrustManagers(), null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
