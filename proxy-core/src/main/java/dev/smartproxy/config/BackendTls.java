package dev.smartproxy.config;

import dev.smartproxy.internal.util.DomainNames;
import dev.smartproxy.internal.util.KeyMaterial;
import io.netty.util.NetUtil;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SNIHostName;

/**
 * TLS from the proxy to a backend (re-encryption): whom to trust, and the SNI name to send.
 *
 * <p>Defaults: the protocols are TLS 1.3 and 1.2, ALPN offers {@code http/1.1}, the backend's
 * certificate must chain to a trusted certificate and name the host (hostname verification, as
 * HTTPS does), and the SNI sent is the target host when it is a name, none when it is an IP
 * literal. With {@link #sni(String)} set, that name is sent and the backend's certificate must
 * name it.
 *
 * <p>{@link #insecureTrustAllForDevelopmentOnly()} turns off both certificate and hostname
 * checks: anyone on the path can read and change the traffic. The proxy logs a WARN when it
 * builds such a context.
 * <pre>{@code
 * BackendTls internalCa = BackendTls.trustPem(Path.of("/etc/tls/internal-ca.pem"));
 * BackendTls pinnedName = BackendTls.systemTrust().sni("api.example.com");
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class BackendTls {
    private static final BackendTls SYSTEM = new BackendTls(Trust.SYSTEM, List.of(), "system trust store", null);
    private static final BackendTls INSECURE = new BackendTls(Trust.INSECURE, List.of(), "INSECURE trust-all", null);

    /** Where trust comes from. */
    private enum Trust { SYSTEM, PEM, INSECURE }

    private final Trust trust;
    private final List<X509Certificate> trustedCertificates;
    private final String description;
    private final String sni;

    private BackendTls(Trust trust, List<X509Certificate> trustedCertificates, String description, String sni) {
        this.trust = trust;
        this.trustedCertificates = trustedCertificates;
        this.description = description;
        this.sni = sni;
    }

    /** Trusts the JDK's default trust store ({@code cacerts}, or {@code javax.net.ssl.trustStore}). */
    public static BackendTls systemTrust() {
        return SYSTEM;
    }

    /**
     * Trusts only the CA (or self-signed) certificates in a PEM file, read now.
     *
     * @throws IllegalArgumentException if the file is missing or holds no certificate
     */
    public static BackendTls trustPem(Path caCertificatesPem) {
        Objects.requireNonNull(caCertificatesPem, "trustPem");
        String name = "trustPem " + caCertificatesPem;
        String text;
        try {
            text = Files.readString(caCertificatesPem, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(name + ": no such file (expected: an existing, readable PEM file)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(name + ": cannot read: " + e + " (expected: a readable PEM file)", e);
        }
        return new BackendTls(Trust.PEM, KeyMaterial.parseCertificates(name, text), name, null);
    }

    /**
     * Trusts only the CA (or self-signed) certificates in PEM text.
     *
     * @throws IllegalArgumentException if the text holds no certificate
     */
    public static BackendTls trustPem(String pem) {
        Objects.requireNonNull(pem, "trustPem");
        String name = "trustPem <PEM text>";
        return new BackendTls(Trust.PEM, KeyMaterial.parseCertificates(name, pem), name, null);
    }

    /**
     * Trusts any certificate and skips hostname verification. For development against a
     * backend with a throwaway certificate only; never in production.
     */
    public static BackendTls insecureTrustAllForDevelopmentOnly() {
        return INSECURE;
    }

    /**
     * A copy that sends {@code hostName} as SNI (and verifies the certificate against it)
     * whatever the target host is. Default: the target host when it is a name, none for an IP.
     *
     * @throws IllegalArgumentException if {@code hostName} is not a host name (an IP literal or a
     *         wildcard is not)
     */
    public BackendTls sni(String hostName) {
        Objects.requireNonNull(hostName, "sni");
        String n = DomainNames.normalize(hostName);
        boolean ok = !n.isEmpty() && !n.contains("*") && NetUtil.createByteArrayFromIpAddressString(n) == null;
        if (ok) {
            try {
                ok = DomainNames.hostNameProblem(n) == null;
                new SNIHostName(n);
            } catch (IllegalArgumentException e) {
                ok = false;
            }
        }
        if (!ok) {
            throw new IllegalArgumentException("sni: '" + hostName + "' (expected: a host name such as"
                    + " backend.example.com; not an IP address or a wildcard)");
        }
        return new BackendTls(trust, trustedCertificates, description, n);
    }

    /** The SNI override, if set: lower case, without a trailing dot. Default: empty. */
    public Optional<String> sni() {
        return Optional.ofNullable(sni);
    }

    /** Whether the JDK's default trust store is used. True for {@link #systemTrust()}. */
    public boolean usesSystemTrust() {
        return trust == Trust.SYSTEM;
    }

    /** The trusted certificates of {@link #trustPem(Path)}; empty otherwise. */
    public List<X509Certificate> trustedCertificates() {
        return trustedCertificates;
    }

    /** Whether every certificate is trusted and hostnames are not verified. Default false. */
    public boolean insecure() {
        return trust == Trust.INSECURE;
    }

    /** Whether the backend certificate must name the host. True unless {@link #insecure()}. */
    public boolean verifiesHostname() {
        return trust != Trust.INSECURE;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BackendTls b && trust == b.trust && trustedCertificates.equals(b.trustedCertificates)
                && Objects.equals(sni, b.sni);
    }

    @Override
    public int hashCode() {
        return Objects.hash(trust, trustedCertificates, sni);
    }

    @Override
    public String toString() {
        return "BackendTls[" + description + (sni == null ? "" : " sni=" + sni) + "]";
    }
}
