package dev.smartproxy.internal.util;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
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
 * A certificate chain and its private key, read and checked: the PEM, DER and key-store parsing
 * behind {@code CertificateSource} and {@code BackendTls}.
 *
 * <p>Every failure is an {@link IllegalArgumentException} naming the source, e.g.
 * {@code certificate /etc/tls/site.pem: no certificate found (expected: ...)}. A certificate
 * outside its validity period is accepted with a WARN line.
 *
 * @param description where it came from, e.g. {@code certificate /etc/tls/site.pem}
 * @param chain       the chain, leaf first; never empty
 * @param privateKey  the leaf's private key, checked to match the leaf
 * @param domains     the leaf's DNS subjectAltNames, else its CN (valid names only, normalised)
 */
public record KeyMaterial(String description, List<X509Certificate> chain, PrivateKey privateKey,
                          List<String> domains) {
    private static final Logger LOG = LoggerFactory.getLogger(KeyMaterial.class);
    private static final Pattern PEM_BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    private static final int SAN_DNS = 2;

    /** Copies the lists. */
    public KeyMaterial {
        Objects.requireNonNull(description, "description");
        chain = List.copyOf(chain);
        Objects.requireNonNull(privateKey, "privateKey");
        domains = List.copyOf(domains);
    }

    /** Reads a PEM chain file (leaf first) and a PEM private key file. */
    public static KeyMaterial pemFiles(Path certificateChainPem, Path privateKeyPem) {
        String certName = "certificate " + certificateChainPem;
        String keyName = "privateKey " + privateKeyPem;
        List<X509Certificate> chain = parseCertificates(certName, readFile(certName, certificateChainPem));
        PrivateKey key = parsePrivateKey(keyName, readFile(keyName, privateKeyPem));
        return fromKeyAndChain(certName, keyName, key, chain);
    }

    /** Reads a PEM chain (leaf first) and a PEM private key given as text. */
    public static KeyMaterial pem(String certificateChainPem, String privateKeyPem) {
        String certName = "certificate <PEM text>";
        String keyName = "privateKey <PEM text>";
        List<X509Certificate> chain = parseCertificates(certName, certificateChainPem);
        PrivateKey key = parsePrivateKey(keyName, privateKeyPem);
        return fromKeyAndChain(certName, keyName, key, chain);
    }

    /** The key-store type of a file by its extension: {@code .jks} is JKS, anything else PKCS12. */
    public static String keyStoreType(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jks") ? "JKS" : "PKCS12";
    }

    /**
     * An empty key store of {@code type}.
     *
     * @throws IllegalArgumentException {@code <name>: unknown key store type ...} if the JDK has none
     */
    public static KeyStore keyStoreOfType(String name, String type) {
        try {
            return KeyStore.getInstance(type);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(name + ": unknown key store type '" + type
                    + "' (expected: PKCS12 or JKS)", e);
        }
    }

    /**
     * Reads a key store: the first private-key entry by alias in sorted order, with its chain;
     * the key password is the store password.
     */
    public static KeyMaterial keyStore(Path file, String type, char[] password) {
        String name = "keyStore " + file;
        byte[] bytes = readBytes(name, file);
        KeyStore ks = keyStoreOfType(name, type);
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
                out.add(DomainNames.certificateDomain(r));
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

    private static KeyMaterial fromKeyAndChain(String certName, String keyName, PrivateKey key,
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
        return new KeyMaterial(certName, chain, key, defaultDomains(certName, leaf));
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
    public static List<X509Certificate> parseCertificates(String name, String pem) {
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
}
