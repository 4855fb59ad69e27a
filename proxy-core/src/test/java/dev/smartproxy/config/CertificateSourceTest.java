package dev.smartproxy.config;

import dev.smartproxy.testing.TestPki;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CertificateSourceTest {
    private static final TestPki PKI = TestPki.shared();
    private static final char[] PASSWORD = "changeit".toCharArray();

    @TempDir
    Path dir;

    private static X509Bundle issue(String subject, boolean rsa) {
        try {
            Instant now = Instant.now();
            CertificateBuilder b = new CertificateBuilder().subject(subject)
                    .notBefore(now.minus(1, ChronoUnit.DAYS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                    .setKeyUsage(true, CertificateBuilder.KeyUsage.digitalSignature, CertificateBuilder.KeyUsage.keyEncipherment)
                    .addExtendedKeyUsageServerAuth();
            return (rsa ? b.rsa2048() : b.ecp256()).buildIssuedBy(PKI.ca());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private Path write(String name, String text) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    /** An EC key as {@code openssl ecparam -genkey} writes it: SEC1 with its named curve (P-256). */
    private static String sec1WithCurve(PrivateKey key) throws Exception {
        java.math.BigInteger d = ((java.security.interfaces.ECPrivateKey) key).getS();
        org.bouncycastle.asn1.sec.ECPrivateKey sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(256, d,
                new org.bouncycastle.asn1.ASN1ObjectIdentifier("1.2.840.10045.3.1.7"));
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(new org.bouncycastle.util.io.pem.PemObject("EC PRIVATE KEY", sec1.getEncoded()));
        }
        return out.toString();
    }

    /** The key in OpenSSL's traditional form: PKCS#1 for RSA, SEC1 (without the curve, as BC writes it) for EC. */
    private static String traditionalPem(PrivateKey key) throws Exception {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(key);
        }
        return out.toString();
    }

    private Path keyStoreFile(X509Bundle bundle, String type, String fileName) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        ks.load(null, null);
        ks.setKeyEntry("server", bundle.getKeyPair().getPrivate(), PASSWORD, bundle.getCertificatePath());
        Path p = dir.resolve(fileName);
        try (OutputStream out = Files.newOutputStream(p)) {
            ks.store(out, PASSWORD);
        }
        return p;
    }

    // ------------------------------------------------------------------ loading

    @Test
    void pemFilesLoadTheChainAndTakeTheSubjectAltNamesAsDomains() throws Exception {
        X509Bundle leaf = PKI.leaf("site.test");
        Path cert = write("site.pem", leaf.getCertificatePathPEM());
        Path key = write("site.key", leaf.getPrivateKeyPEM());
        CertificateSource s = CertificateSource.pemFiles(cert, key);
        assertThat(s.domains()).containsExactly("site.test", "x.site.test");
        assertThat(s.certificateChain()).containsExactly(leaf.getCertificatePath());
        assertThat(s.description()).isEqualTo("certificate " + cert);
        assertThat(s.toString()).contains("site.test").doesNotContain("PRIVATE");
    }

    @Test
    void pemTextAcceptsPkcs8Pkcs1AndSec1Keys() throws Exception {
        X509Bundle rsa = issue("CN=rsa.test", true);
        X509Bundle ec = issue("CN=ec.test", false);
        String pkcs1 = traditionalPem(rsa.getKeyPair().getPrivate());
        String sec1 = sec1WithCurve(ec.getKeyPair().getPrivate());
        assertThat(pkcs1).contains("BEGIN RSA PRIVATE KEY");
        assertThat(sec1).contains("BEGIN EC PRIVATE KEY");

        assertThat(CertificateSource.pem(rsa.getCertificatePEM(), rsa.getPrivateKeyPEM()).domains())
                .containsExactly("rsa.test");
        assertThat(CertificateSource.pem(rsa.getCertificatePEM(), pkcs1).domains()).containsExactly("rsa.test");
        assertThat(CertificateSource.pem(ec.getCertificatePEM(), sec1).domains()).containsExactly("ec.test");
        // SEC1 without its curve cannot become a key.
        String sec1NoCurve = traditionalPem(ec.getKeyPair().getPrivate());
        assertThatThrownBy(() -> CertificateSource.pem(ec.getCertificatePEM(), sec1NoCurve))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("privateKey <PEM text>: the EC private key has no named curve"
                        + " (expected: an EC key with its curve, or a PKCS#8 key)");
        // Text around the blocks (as openssl writes "Bag Attributes") is ignored.
        assertThat(CertificateSource.pem("subject=CN = ec.test\n" + ec.getCertificatePEM(),
                "Bag Attributes\n" + ec.getPrivateKeyPEM()).certificateChain()).hasSize(1);
    }

    @Test
    void wildcardCommonNameIsTheDefaultDomainWithoutSubjectAltNames() {
        X509Bundle wild = issue("CN=*.Wild.Test,O=SmartProxy", false);
        assertThat(CertificateSource.pem(wild.getCertificatePEM(), wild.getPrivateKeyPEM()).domains())
                .containsExactly("*.wild.test");
    }

    @Test
    void keyStoresLoadByExtensionAndByType() throws Exception {
        X509Bundle leaf = PKI.leaf("store.test");
        Path p12 = keyStoreFile(leaf, "PKCS12", "server.p12");
        Path pfx = keyStoreFile(leaf, "PKCS12", "server.pfx");
        Path jks = keyStoreFile(leaf, "JKS", "server.jks");
        Path jksNoExt = keyStoreFile(leaf, "JKS", "server.store");
        assertThat(CertificateSource.keyStore(p12, PASSWORD).domains()).containsExactly("store.test", "x.store.test");
        assertThat(CertificateSource.keyStore(pfx, PASSWORD).certificateChain().get(0)).isEqualTo(leaf.getCertificate());
        assertThat(CertificateSource.keyStore(jks, PASSWORD).domains()).contains("store.test");
        assertThat(CertificateSource.keyStore(jksNoExt, "JKS", PASSWORD).domains()).contains("store.test");
        // Not a key store at all: the message names the type that was tried.
        Path notAStore = write("junk.p12", "junk");
        assertThatThrownBy(() -> CertificateSource.keyStore(notAStore, PASSWORD).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keyStore " + notAStore + ": cannot read the PKCS12 key store: ")
                .hasMessageEndingWith("(expected: a PKCS12 key store and its password)");
        Path junkJks = write("junk.jks", "junk");
        assertThatThrownBy(() -> CertificateSource.keyStore(junkJks, PASSWORD).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keyStore " + junkJks + ": cannot read the JKS key store: ");
    }

    @Test
    void userSslContextNeedsDomains() throws Exception {
        SslContext server = SslContextBuilder.forServer(PKI.leaf("ctx.test").toKeyManagerFactory()).build();
        CertificateSource s = CertificateSource.sslContext(server, "ctx.test", "*.CTX.test.");
        assertThat(s.domains()).containsExactly("ctx.test", "*.ctx.test");
        assertThat(s.certificateChain()).isEmpty();
        assertThatThrownBy(() -> CertificateSource.sslContext(server))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sslContext domains: none (expected: at least one name such as example.com or *.example.com)");
        SslContext client = SslContextBuilder.forClient().build();
        assertThatThrownBy(() -> CertificateSource.sslContext(client, "ctx.test"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("sslContext: a client context (expected: a server SslContext");
    }

    @Test
    void domainsReplaceTheCertificateNamesInACopy() {
        X509Bundle leaf = PKI.leaf("orig.test");
        CertificateSource s = CertificateSource.pem(leaf.getCertificatePathPEM(), leaf.getPrivateKeyPEM());
        CertificateSource renamed = s.domains("API.Example.com.", "*.example.com", "api.example.com");
        assertThat(renamed.domains()).containsExactly("api.example.com", "*.example.com");
        assertThat(s.domains()).containsExactly("orig.test", "x.orig.test");
        assertThat(renamed.certificateChain()).isEqualTo(s.certificateChain());
    }

    // ------------------------------------------------------------------ validators

    @Test
    void rejectsBadDomains() {
        X509Bundle leaf = PKI.leaf("orig.test");
        CertificateSource s = CertificateSource.pem(leaf.getCertificatePathPEM(), leaf.getPrivateKeyPEM());
        assertThatThrownBy(() -> s.domains(new String[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("domains: none (expected: ");
        assertThatThrownBy(() -> s.domains(""))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("domains: '' is empty (expected: a host name such as example.com, or *.example.com)");
        assertThatThrownBy(() -> s.domains("*"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("domains: '*' ");
        assertThatThrownBy(() -> s.domains("*.*.example.com"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("domains: '*.*.example.com' has a wildcard that is not the whole leftmost label");
        assertThatThrownBy(() -> s.domains("a*.example.com"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("wildcard");
        assertThatThrownBy(() -> s.domains("a..example.com"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("domains: 'a..example.com' is not a host name");
        assertThatThrownBy(() -> s.domains("ok.test", "bad name"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("domains: 'bad name'");
    }

    @Test
    void filesAreReadWhenFirstNeededAndOnceForEveryCopy() throws Exception {
        Path missing = dir.resolve("later.pem");
        Path missingKey = dir.resolve("later.key");
        // Creating the source reads nothing: a configuration can name files this machine lacks.
        CertificateSource s = CertificateSource.pemFiles(missing, missingKey);
        CertificateSource named = s.domains("later.test");
        assertThat(named.domains()).containsExactly("later.test");
        assertThat(s.toString()).contains("not read yet");
        assertThatThrownBy(s::load).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate " + missing + ": no such file (expected: an existing, readable file)");
        assertThatThrownBy(s::domains).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificate " + missing + ": no such file");
        // Once the files exist they are read, once: the copy shares what the original read.
        X509Bundle leaf = PKI.leaf("later.test");
        Files.writeString(missing, leaf.getCertificatePathPEM());
        Files.writeString(missingKey, leaf.getPrivateKeyPEM());
        assertThat(s.load()).isSameAs(s);
        Files.delete(missing);
        Files.delete(missingKey);
        assertThat(named.certificateChain()).containsExactly(leaf.getCertificatePath());
        assertThat(named.privateKey()).isPresent();
        assertThat(s.toString()).contains("later.test").doesNotContain("PRIVATE");
        assertThat(s.providedContext()).isEmpty();
    }

    @Test
    void aKeyStoreIsReadLaterWithACopyOfThePassword() throws Exception {
        Path p12 = keyStoreFile(PKI.leaf("store.test"), "PKCS12", "late.p12");
        char[] password = PASSWORD.clone();
        CertificateSource s = CertificateSource.keyStore(p12, password);
        java.util.Arrays.fill(password, 'x'); // the caller wipes its array at once
        assertThat(s.domains()).contains("store.test");
        assertThat(s.privateKey()).isPresent();
    }

    @Test
    void rejectsMissingFiles() throws Exception {
        X509Bundle leaf = PKI.leaf("orig.test");
        Path key = write("k.pem", leaf.getPrivateKeyPEM());
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> CertificateSource.pemFiles(missing, key).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate " + missing + ": no such file (expected: an existing, readable file)");
        Path cert = write("c.pem", leaf.getCertificatePEM());
        assertThatThrownBy(() -> CertificateSource.pemFiles(cert, missing).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("privateKey " + missing + ": no such file (expected: an existing, readable file)");
        assertThatThrownBy(() -> CertificateSource.keyStore(dir.resolve("missing.p12"), PASSWORD).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keyStore " + dir.resolve("missing.p12") + ": no such file");
    }

    @Test
    void rejectsUnreadablePem() throws Exception {
        X509Bundle leaf = PKI.leaf("orig.test");
        Path garbage = write("garbage.pem", "not a certificate");
        Path key = write("k.pem", leaf.getPrivateKeyPEM());
        assertThatThrownBy(() -> CertificateSource.pemFiles(garbage, key).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate " + garbage + ": no certificate found"
                        + " (expected: PEM text with -----BEGIN CERTIFICATE----- blocks)");
        assertThatThrownBy(() -> CertificateSource.pem(leaf.getCertificatePEM(), leaf.getCertificatePEM()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("privateKey <PEM text>: no private key found"
                        + " (expected: PEM text with a -----BEGIN PRIVATE KEY----- block)");
        String corrupt = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assertThatThrownBy(() -> CertificateSource.pem(corrupt, leaf.getPrivateKeyPEM()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificate <PEM text>: certificate 1 cannot be read: ")
                .hasMessageEndingWith("(expected: PEM X.509 certificates)");
        String badKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assertThatThrownBy(() -> CertificateSource.pem(leaf.getCertificatePEM(), badKey))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("privateKey <PEM text>: the private key cannot be read");
        String encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assertThatThrownBy(() -> CertificateSource.pem(leaf.getCertificatePEM(), encrypted))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("privateKey <PEM text>: the private key is encrypted");
    }

    @Test
    void rejectsAKeyThatDoesNotMatchTheCertificate() throws Exception {
        X509Bundle one = PKI.leaf("one.test");
        X509Bundle two = PKI.leaf("two.test");
        Path cert = write("one.pem", one.getCertificatePathPEM());
        Path otherKey = write("two.key", two.getPrivateKeyPEM());
        assertThatThrownBy(() -> CertificateSource.pemFiles(cert, otherKey).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("certificate " + cert + ": the private key (privateKey " + otherKey
                        + ") does not match the certificate CN=one.test")
                .hasMessageEndingWith("(expected: the key the first certificate was issued for)");
        X509Bundle rsaA = issue("CN=rsa-a.test", true);
        X509Bundle rsaB = issue("CN=rsa-b.test", true);
        assertThatThrownBy(() -> CertificateSource.pem(rsaA.getCertificatePEM(), rsaB.getPrivateKeyPEM()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not match");
        // An RSA key for an EC certificate.
        assertThatThrownBy(() -> CertificateSource.pem(one.getCertificatePEM(), rsaA.getPrivateKeyPEM()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not match");
        // The leaf must come first: the CA first means the key does not match it.
        assertThatThrownBy(() -> CertificateSource.pem(PKI.ca().getCertificatePEM() + one.getCertificatePEM(),
                one.getPrivateKeyPEM()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not match");
    }

    @Test
    void rejectsAWrongKeyStorePasswordOrType() throws Exception {
        Path p12 = keyStoreFile(PKI.leaf("store.test"), "PKCS12", "pw.p12");
        assertThatThrownBy(() -> CertificateSource.keyStore(p12, "wrong".toCharArray()).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("keyStore " + p12 + ": wrong password (expected: a PKCS12 key store and its password)");
        Path jks = keyStoreFile(PKI.leaf("store.test"), "JKS", "pw.jks");
        assertThatThrownBy(() -> CertificateSource.keyStore(jks, "wrong".toCharArray()).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keyStore " + jks + ": wrong password");
        assertThatThrownBy(() -> CertificateSource.keyStore(p12, "NOPE", PASSWORD))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("keyStore " + p12 + ": unknown key store type 'NOPE' (expected: PKCS12 or JKS)");
    }

    @Test
    void rejectsAKeyStoreWithoutAPrivateKey() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", PKI.ca().getCertificate());
        Path p = dir.resolve("trust-only.p12");
        try (OutputStream out = Files.newOutputStream(p)) {
            ks.store(out, PASSWORD);
        }
        assertThatThrownBy(() -> CertificateSource.keyStore(p, PASSWORD).load())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("keyStore " + p + ": no private key entry with an X.509 certificate (expected: ");
    }

    @Test
    void leafIsTheFirstCertificate() {
        X509Bundle leaf = PKI.leaf("chain.test");
        CertificateSource s = CertificateSource.pem(leaf.getCertificatePathPEM() + PKI.ca().getCertificatePEM(),
                leaf.getPrivateKeyPEM());
        X509Certificate first = s.certificateChain().get(0);
        assertThat(first).isEqualTo(leaf.getCertificate());
        assertThat(s.certificateChain()).last().isEqualTo(PKI.ca().getCertificate());
    }
}
