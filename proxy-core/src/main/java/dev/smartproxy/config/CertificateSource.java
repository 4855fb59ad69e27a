package dev.smartproxy.config;

import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.route.DomainPattern;
import io.netty.handler.ssl.SslContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;

/**
 * A certificate and its private key that the proxy presents when it terminates TLS, and the
 * host names (SNI) it is presented for.
 *
 * <p>Everything is loaded and checked when the source is created: a missing file, a PEM or key
 * store that cannot be read, a wrong password, or a private key that does not belong to the
 * certificate throws {@link IllegalArgumentException} naming the source, e.g.
 * {@code certificate /etc/tls/site.pem: no certificate found (expected: ...)}. A certificate
 * outside its validity period is accepted with a WARN log line.
 *
 * <p>Accepted PEM private keys: unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 RSA
 * ({@code BEGIN RSA PRIVATE KEY}) and SEC1 EC ({@code BEGIN EC PRIVATE KEY}) with a named
 * curve. Encrypted keys are not accepted: decrypt them first, or use a key store. The
 * certificate PEM holds the leaf certificate first, then its intermediates.
 *
 * <p>Domains: by default the leaf certificate's DNS subjectAltNames, or its subject CN when it
 * has none; override them with {@link #domains(String...)}. A name is exact
 * ({@code api.example.com}) or a wildcard {@code *.example.com}, which covers exactly one more
 * label ({@code a.example.com}, not {@code a.b.example.com} and not {@code example.com}).
 * Matching ignores case and one trailing dot.
 * <pre>{@code
 * CertificateSource site = CertificateSource.pemFiles(Path.of("site.crt"), Path.of("site.key"));
 * CertificateSource legacy = CertificateSource.keyStore(Path.of("legacy.p12"), "secret".toCharArray())
 *         .domains("legacy.example.com", "*.legacy.example.com");
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class CertificateSource {
    private static final Logger LOG = LoggerFactory.getLogger(CertificateSource.class);
    private static final Pattern PEM_BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    private static final int SAN_DNS = 2;

    static {
        CertificateStore.installAccess(new CertificateStore.SourceAccess() {
            @Override
            public PrivateKey privateKey(CertificateSource source) {
                return source.privateKey;
            }

            @Override
            public SslContext sslContext(CertificateSource source) {
                return source.sslContext;
            }
        });
    }

    private final String description;
    private final List<X509Certificate> chain;
    private final PrivateKey privateKey;
    private final SslContext sslContext;
    private final List<String> domains;

    private CertificateSource(String description, List<X509Certificate> chain, PrivateKey privateKey,
                              SslContext sslContext, List<String> domains) {
        this.description = description;
        this.chain = chain;
        this.privateKey = privateKey;
        this.sslContext = sslContext;
        this.domains = domains;
    }

    /**
     * A PEM certificate chain file (leaf first) and a PEM private key file.
     *
     * @throws IllegalArgumentException if a file is missing or unreadable, holds no certificate
     *         or key, or the key does not match the certificate
     */
    public static CertificateSource pemFiles(Path certificateChainPem, Path privateKeyPem) {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        String certName = "certificate " + certificateChainPem;
        String keyName = "privateKey " + privateKeyPem;
        List<X509Certificate> chain = parseCertificates(certName, readFile(certName, certificateChainPem));
        PrivateKey key = parsePrivateKey(keyName, readFile(keyName, privateKeyPem));
        return fromKeyAndChain(certName, keyName, key, chain);
    }

    /**
     * A PEM certificate chain (leaf first) and a PEM private key given as text.
     *
     * @throws IllegalArgumentException if the text holds no certificate or key, or the key does
     *         not match the certificate
     */
    public static CertificateSource pem(String certificateChainPem, String privateKeyPem) {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        String certName = "certificate <PEM text>";
        String keyName = "privateKey <PEM text>";
        List<X509Certificate> chain = parseCertificates(certName, certificateChainPem);
        PrivateKey key = parsePrivateKey(keyName, privateKeyPem);
        return fromKeyAndChain(certName, keyName, key, chain);
    }

    /**
     * A key store file, its type taken from the extension: {@code .jks} is JKS; {@code .p12},
     * {@code .pfx} and anything else are PKCS12. See {@link #keyStore(Path, String, char[])}.
     */
    public static CertificateSource keyStore(Path file, char[] password) {
        Objects.requireNonNull(file, "keyStore");
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        return keyStore(file, name.endsWith(".jks") ? "JKS" : "PKCS12", password);
    }

    /**
     * A key store file of the given type ({@code PKCS12}, {@code JKS}, or any type the JDK
     * provides). The first private-key entry, by alias in sorted order, is used, with its
     * chain; the key password is the store password. The password array is not kept.
     *
     * @throws IllegalArgumentException if the file is missing, the type is unknown, the password
     *         is wrong, or the store has no private-key entry
     */
    public static CertificateSource keyStore(Path file, String type, char[] password) {
        Objects.requireNonNull(file, "keyStore");
        Objects.requireNonNull(type, "keyStore type");
        Objects.requireNonNull(password, "keyStore password");
        String name = "keyStore " + file;
        byte[] bytes = readBytes(name, file);
        KeyStore ks;
        try {
            ks = KeyStore.getInstance(type);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(name + ": unknown key store type '" + type
                    + "' (expected: PKCS12 or JKS)", e);
        }
        try {
            ks.load(new ByteArrayInputStream(bytes), password);
        } catch (IOException e) {
            boolean badPassword = e.getCause() instanceof UnrecoverableKeyException
                    || String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("password");
            throw new IllegalArgumentException(name + ": " + (badPassword ? "wrong password"
                    : "cannot read the " + type + " key store: " + e.getMessage())
                    + " (expected: a " + type + " key store and its password)", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(name + ": cannot read the " + type + " key store: " + e.getMessage()
                    + " (expected: a " + type + " key store and its password)", e);
        }
        try {
            List<String> aliases = new ArrayList<>(Collections.list(ks.aliases()));
            Collections.sort(aliases);
            for (String alias : aliases) {
                if (!ks.isKeyEntry(alias)) {
                    continue;
                }
                PrivateKey key;
                try {
                    key = (PrivateKey) ks.getKey(alias, password);
                } catch (UnrecoverableKeyException e) {
                    throw new IllegalArgumentException(name + ": wrong password for the key '" + alias
                            + "' (expected: the key password equal to the store password)", e);
                }
                Certificate[] certs = ks.getCertificateChain(alias);
                List<X509Certificate> chain = new ArrayList<>();
                if (certs != null) {
                    for (Certificate c : certs) {
                        if (c instanceof X509Certificate x) {
                            chain.add(x);
                        }
                    }
                }
                if (key == null || chain.isEmpty()) {
                    continue;
                }
                return fromKeyAndChain(name, name + " (key '" + alias + "')", key, List.copyOf(chain));
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage()
                    + " (expected: a readable private-key entry)", e);
        }
        throw new IllegalArgumentException(name + ": no private key entry with an X.509 certificate"
                + " (expected: a key store holding a private key and its certificate chain)");
    }

    /**
     * A Netty server {@link SslContext} built by the caller, used as is (its protocols, ciphers
     * and ALPN are the caller's), for the given domains. Domains are required: the proxy cannot
     * look inside the context.
     *
     * @throws IllegalArgumentException if {@code serverContext} is a client context, or no
     *         domain is given, or a domain is not a valid name
     */
    public static CertificateSource sslContext(SslContext serverContext, String... domains) {
        Objects.requireNonNull(serverContext, "sslContext");
        if (!serverContext.isServer()) {
            throw new IllegalArgumentException("sslContext: a client context (expected: a server SslContext,"
                    + " from SslContextBuilder.forServer)");
        }
        Objects.requireNonNull(domains, "domains");
        if (domains.length == 0) {
            throw new IllegalArgumentException("sslContext domains: none (expected: at least one name such as"
                    + " example.com or *.example.com)");
        }
        return new CertificateSource("sslContext " + serverContext.getClass().getSimpleName(), List.of(), null,
                serverContext, checkDomains(domains));
    }

    /**
     * A copy presented for exactly these names instead of the certificate's own. Each is a host
     * name ({@code example.com}) or a one-label wildcard ({@code *.example.com}); stored lower
     * case, without a trailing dot, duplicates dropped.
     *
     * @throws IllegalArgumentException if no name is given or a name is not valid
     */
    public CertificateSource domains(String... patterns) {
        Objects.requireNonNull(patterns, "domains");
        if (patterns.length == 0) {
            throw new IllegalArgumentException("domains: none (expected: at least one name such as"
                    + " example.com or *.example.com)");
        }
        return new CertificateSource(description, chain, privateKey, sslContext, checkDomains(patterns));
    }

    /** The names this certificate is presented for: lower case, no trailing dot. May be empty. */
    public List<String> domains() {
        return domains;
    }

    /**
     * The certificate chain, leaf first; empty for {@link #sslContext(SslContext, String...)}
     * sources.
     */
    public List<X509Certificate> certificateChain() {
        return chain;
    }

    /** Where this came from, e.g. {@code certificate /etc/tls/site.pem}; used in messages. */
    public String description() {
        return description;
    }

    @Override
    public String toString() {
        return "CertificateSource[" + description + " domains=" + domains + "]";
    }

    // ---------------------------------------------------------------- domains

    private static List<String> checkDomains(String... patterns) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : patterns) {
            out.add(checkDomain(p));
        }
        return List.copyOf(out);
    }

    private static String checkDomain(String pattern) {
        Objects.requireNonNull(pattern, "domain");
        String p = DomainPattern.normalize(pattern);
        String host = p.startsWith("*.") ? p.substring(2) : p;
        String problem = host.isEmpty() ? "is empty"
                : host.contains("*") ? "has a wildcard that is not the whole leftmost label" : null;
        if (problem == null) {
            try {
                DomainPattern.of(host);
            } catch (IllegalArgumentException e) {
                problem = "is not a host name";
            }
        }
        if (problem != null) {
            throw new IllegalArgumentException("domains: '" + pattern + "' " + problem
                    + " (expected: a host name such as example.com, or *.example.com)");
        }
        return p;
    }

    /** The leaf's DNS subjectAltNames, else its CN; names that are not valid patterns are skipped. */
    private static List<String> defaultDomains(String name, X509Certificate leaf) {
        List<String> raw = new ArrayList<>();
        try {
            Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() >= 2 && Integer.valueOf(SAN_DNS).equals(san.get(0)) && san.get(1) instanceof String s) {
                        raw.add(s);
                    }
                }
            }
        } catch (CertificateException e) {
            LOG.debug("{}: cannot read the subjectAltNames", name, e);
        }
        if (raw.isEmpty()) {
            String cn = commonName(leaf.getSubjectX500Principal());
            if (cn != null) {
                raw.add(cn);
            }
        }
        Set<String> out = new LinkedHashSet<>();
        for (String r : raw) {
            try {
                out.add(checkDomain(r));
            } catch (IllegalArgumentException e) {
                LOG.debug("{}: the certificate name '{}' is not used as a domain", name, r);
            }
        }
        return List.copyOf(out);
    }

    private static String commonName(X500Principal principal) {
        // RFC 2253 form: attributes separated by unescaped commas, most specific first.
        String dn = principal.getName(X500Principal.RFC2253);
        for (String rdn : dn.split("(?<!\\\\),")) {
            String r = rdn.strip();
            if (r.regionMatches(true, 0, "CN=", 0, 3)) {
                return r.substring(3).replace("\\", "");
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- loading

    private static CertificateSource fromKeyAndChain(String certName, String keyName, PrivateKey key,
                                                     List<X509Certificate> chain) {
        X509Certificate leaf = chain.get(0);
        if (!keyMatches(key, leaf)) {
            throw new IllegalArgumentException(certName + ": the private key (" + keyName
                    + ") does not match the certificate " + leaf.getSubjectX500Principal().getName()
                    + " (expected: the key the first certificate was issued for)");
        }
        Date now = new Date();
        if (now.after(leaf.getNotAfter()) || now.before(leaf.getNotBefore())) {
            LOG.warn("{}: the certificate {} is valid only from {} to {}; clients will reject it", certName,
                    leaf.getSubjectX500Principal().getName(), leaf.getNotBefore().toInstant(),
                    leaf.getNotAfter().toInstant());
        }
        return new CertificateSource(certName, chain, key, null, defaultDomains(certName, leaf));
    }

    /** Whether {@code key} belongs to the certificate: sign a nonce with it and verify with the certificate. */
    private static boolean keyMatches(PrivateKey key, X509Certificate leaf) {
        if (key instanceof RSAPrivateCrtKey rsa && leaf.getPublicKey() instanceof RSAPublicKey pub) {
            return rsa.getModulus().equals(pub.getModulus()) && rsa.getPublicExponent().equals(pub.getPublicExponent());
        }
        String alg = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "DSA" -> "SHA256withDSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448, EdDSA
        };
        if (!key.getAlgorithm().equals(leaf.getPublicKey().getAlgorithm())
                && !(key.getAlgorithm().startsWith("Ed") && leaf.getPublicKey().getAlgorithm().startsWith("Ed"))) {
            return false;
        }
        try {
            byte[] nonce = "smartproxy key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(alg);
            signer.initSign(key);
            signer.update(nonce);
            byte[] sig = signer.sign();
            Signature verifier = Signature.getInstance(alg);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(nonce);
            return verifier.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static byte[] readBytes(String name, Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(name + ": no such file (expected: an existing, readable file)", e);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(name + ": permission denied (expected: a readable file)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(name + ": cannot read: " + e + " (expected: a readable file)", e);
        }
    }

    private static String readFile(String name, Path file) {
        return new String(readBytes(name, file), StandardCharsets.ISO_8859_1);
    }

    /** Reads every {@code CERTIFICATE} block of a PEM text, in order; fails if there is none. */
    static List<X509Certificate> parseCertificates(String name, String pem) {
        List<X509Certificate> out = new ArrayList<>();
        Matcher m = PEM_BLOCK.matcher(pem);
        CertificateFactory factory;
        try {
            factory = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
        }
        while (m.find()) {
            if (!m.group(1).equals("CERTIFICATE") && !m.group(1).equals("TRUSTED CERTIFICATE")) {
                continue;
            }
            try (InputStream in = new ByteArrayInputStream(base64(name, m.group(2)))) {
                out.add((X509Certificate) factory.generateCertificate(in));
            } catch (CertificateException | IOException e) {
                throw new IllegalArgumentException(name + ": certificate " + (out.size() + 1) + " cannot be read: "
                        + e.getMessage() + " (expected: PEM X.509 certificates)", e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(name + ": no certificate found"
                    + " (expected: PEM text with -----BEGIN CERTIFICATE----- blocks)");
        }
        return List.copyOf(out);
    }

    private static byte[] base64(String name, String body) {
        try {
            return Base64.getMimeDecoder().decode(body.replaceAll("\\s", ""));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": bad base64 in a PEM block (expected: PEM text)", e);
        }
    }

    /** Reads the first private key block: PKCS#8, PKCS#1 RSA or SEC1 EC. */
    private static PrivateKey parsePrivateKey(String name, String pem) {
        Matcher m = PEM_BLOCK.matcher(pem);
        while (m.find()) {
            String type = m.group(1);
            switch (type) {
                case "PRIVATE KEY":
                    return pkcs8(name, base64(name, m.group(2)));
                case "RSA PRIVATE KEY":
                    return pkcs8(name, Der.wrapPkcs1Rsa(base64(name, m.group(2))));
                case "EC PRIVATE KEY":
                    return pkcs8(name, Der.wrapSec1Ec(name, base64(name, m.group(2))));
                case "ENCRYPTED PRIVATE KEY":
                    throw new IllegalArgumentException(name + ": the private key is encrypted"
                            + " (expected: an unencrypted PKCS#8, PKCS#1 or EC key; or use keyStore(...))");
                default:
                    // EC PARAMETERS, certificates and other blocks are skipped.
            }
        }
        if (pem.contains("Proc-Type: 4,ENCRYPTED")) {
            throw new IllegalArgumentException(name + ": the private key is encrypted"
                    + " (expected: an unencrypted PKCS#8, PKCS#1 or EC key; or use keyStore(...))");
        }
        throw new IllegalArgumentException(name + ": no private key found"
                + " (expected: PEM text with a -----BEGIN PRIVATE KEY----- block)");
    }

    private static PrivateKey pkcs8(String name, byte[] der) {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String alg : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS", "DSA")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException | RuntimeException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(name + ": the private key cannot be read"
                + " (expected: an RSA, EC, EdDSA or DSA private key)");
    }

    /** Just enough DER to turn PKCS#1 and SEC1 keys into PKCS#8. */
    private static final class Der {
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
}
