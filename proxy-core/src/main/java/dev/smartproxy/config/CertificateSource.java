package dev.smartproxy.config;

import dev.smartproxy.internal.util.DomainNames;
import dev.smartproxy.internal.util.KeyMaterial;
import io.netty.handler.ssl.SslContext;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A certificate and its private key that the proxy presents when it terminates TLS, and the
 * host names (SNI) it is presented for.
 *
 * <p><b>When it is read.</b> Files ({@link #pemFiles}, {@link #keyStore}) are read and checked
 * when first needed: at {@code SmartProxy.start()}, before any port is bound, or earlier by
 * {@link #load()}, {@link #certificateChain()}, {@link #privateKey()} or {@link #domains()} (the
 * last only when no {@link #domains(String...)} were given). So a configuration that names
 * certificate files can be built and its {@code routes()} unit-tested on a machine without the
 * files. PEM text ({@link #pem}) and {@link #sslContext} sources are checked at once. A missing
 * file, a PEM or key store that cannot be read, a wrong password, or a private key that does not
 * belong to the certificate throws {@link IllegalArgumentException} naming the source, e.g.
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
 * <p>Instances are immutable (the files are read at most once; {@link #reload()} makes a new
 * source that reads them again) and thread-safe.
 */
public final class CertificateSource {
    private final String description;
    /** Null for an {@code sslContext} source; shared by the copies {@link #domains(String...)} makes. */
    private final Material material;
    private final SslContext sslContext;
    /** Null: the certificate's own names. */
    private final List<String> domains;
    private final ClientAuth clientAuth;
    /** The files {@link #material} reads; empty for text and {@code sslContext} sources. */
    private final List<Path> files;

    private CertificateSource(String description, Material material, SslContext sslContext, List<String> domains,
                              List<Path> files) {
        this(description, material, sslContext, domains, ClientAuth.none(), files);
    }

    private CertificateSource(String description, Material material, SslContext sslContext, List<String> domains,
                              ClientAuth clientAuth, List<Path> files) {
        this.description = description;
        this.material = material;
        this.sslContext = sslContext;
        this.domains = domains;
        this.clientAuth = clientAuth;
        this.files = files;
    }

    /**
     * A PEM certificate chain file (leaf first) and a PEM private key file, read when first
     * needed (see the class comment).
     */
    public static CertificateSource pemFiles(Path certificateChainPem, Path privateKeyPem) {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        return new CertificateSource("certificate " + certificateChainPem,
                new Material(() -> KeyMaterial.pemFiles(certificateChainPem, privateKeyPem)), null, null,
                List.of(certificateChainPem, privateKeyPem));
    }

    /**
     * A PEM certificate chain (leaf first) and a PEM private key given as text, checked at once.
     *
     * @throws IllegalArgumentException if the text holds no certificate or key, or the key does
     *         not match the certificate
     */
    public static CertificateSource pem(String certificateChainPem, String privateKeyPem) {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        KeyMaterial m = KeyMaterial.pem(certificateChainPem, privateKeyPem);
        return new CertificateSource(m.description(), new Material(() -> m), null, null, List.of());
    }

    /**
     * A key store file, its type taken from the extension: {@code .jks} is JKS; {@code .p12},
     * {@code .pfx} and anything else are PKCS12. See {@link #keyStore(Path, String, char[])}.
     */
    public static CertificateSource keyStore(Path file, char[] password) {
        Objects.requireNonNull(file, "keyStore");
        return keyStore(file, KeyMaterial.keyStoreType(file), password);
    }

    /**
     * A key store file of the given type ({@code PKCS12}, {@code JKS}, or any type the JDK
     * provides), read when first needed (see the class comment). The first private-key entry,
     * by alias in sorted order, is used, with its chain; the key password is the store password.
     * A copy of the password is kept, so that {@link #reload()} (and
     * {@code SmartProxy.Builder.watchCertificates}) can read the store again; the caller's array
     * is not kept.
     *
     * @throws IllegalArgumentException at once if the type is unknown; when the store is read, if
     *         the file is missing, the password is wrong, or the store has no private-key entry
     */
    public static CertificateSource keyStore(Path file, String type, char[] password) {
        Objects.requireNonNull(file, "keyStore");
        Objects.requireNonNull(type, "keyStore type");
        Objects.requireNonNull(password, "keyStore password");
        String name = "keyStore " + file;
        KeyMaterial.keyStoreOfType(name, type);
        char[] copy = password.clone();
        return new CertificateSource(name, new Material(() -> KeyMaterial.keyStore(file, type, copy)), null, null,
                List.of(file));
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
        return new CertificateSource("sslContext " + serverContext.getClass().getSimpleName(), null,
                serverContext, checkDomains(domains), List.of());
    }

    /**
     * A copy presented for exactly these names instead of the certificate's own. Each is a host
     * name ({@code example.com}) or a one-label wildcard ({@code *.example.com}); stored lower
     * case, without a trailing dot, duplicates dropped. The copy shares this source's files:
     * they are read once.
     *
     * @throws IllegalArgumentException if no name is given or a name is not valid
     */
    public CertificateSource domains(String... patterns) {
        Objects.requireNonNull(patterns, "domains");
        if (patterns.length == 0) {
            throw new IllegalArgumentException("domains: none (expected: at least one name such as"
                    + " example.com or *.example.com)");
        }
        return new CertificateSource(description, material, sslContext, checkDomains(patterns), clientAuth, files);
    }

    /**
     * A copy that asks clients reaching its names for a certificate (mutual TLS), as
     * {@code clientAuth} says; see {@link ClientAuth}. Default: {@link ClientAuth#none()}. Client
     * authentication belongs to the certificate because the proxy picks the certificate, and the
     * TLS settings that go with it, by SNI during the handshake. A request on such a connection
     * whose Host is served by another certificate is answered 421 (Misdirected Request).
     * <pre>{@code
     * CertificateSource.pemFiles(Path.of("admin.crt"), Path.of("admin.key"))
     *         .clientAuth(ClientAuth.required(Path.of("clients-ca.pem")).subjectHeader("X-Client-Subject"));
     * }</pre>
     *
     * @throws IllegalArgumentException if this is an {@link #sslContext(SslContext, String...)}
     *         source and {@code clientAuth} is not none: configure client authentication in that
     *         context instead
     */
    public CertificateSource clientAuth(ClientAuth clientAuth) {
        Objects.requireNonNull(clientAuth, "clientAuth");
        if (sslContext != null && clientAuth.mode() != ClientAuth.Mode.NONE) {
            throw new IllegalArgumentException("clientAuth: " + clientAuth + " on " + description + " (expected: a"
                    + " key and certificate source; configure client authentication in your own SslContext)");
        }
        return new CertificateSource(description, material, sslContext, domains, clientAuth, files);
    }

    /** Whether and how clients must present a certificate; {@link ClientAuth#none()} by default. */
    public ClientAuth clientAuth() {
        return clientAuth;
    }

    /**
     * Reads and checks the key material now, if that has not happened yet, so that a bad file
     * fails here rather than at {@code SmartProxy.start()}.
     *
     * @return this source
     * @throws IllegalArgumentException naming the file and the problem
     */
    public CertificateSource load() {
        if (material != null) {
            material.get();
        }
        return this;
    }

    /**
     * The files this source reads: the chain and key of {@link #pemFiles}, the store of
     * {@link #keyStore}; empty for {@link #pem} text and {@link #sslContext} sources. These are
     * the files {@code SmartProxy.Builder.watchCertificates} polls.
     */
    public List<Path> files() {
        return files;
    }

    /**
     * A new source that reads the same files again, when first needed, with the same domains
     * and client authentication: the way to pick up renewed files, e.g.
     * {@code proxy.updateCertificates(sources.stream().map(CertificateSource::reload).toList(), null)}.
     * This source is unchanged (it keeps what it read). A source without {@link #files()}
     * returns itself.
     */
    public CertificateSource reload() {
        if (files.isEmpty()) {
            return this;
        }
        return new CertificateSource(description, new Material(material.reader), sslContext, domains, clientAuth,
                files);
    }

    /**
     * The names this certificate is presented for: lower case, no trailing dot. May be empty.
     * Without {@link #domains(String...)}, the certificate's own names: the files are read.
     *
     * @throws IllegalArgumentException if the files must be read and cannot be
     */
    public List<String> domains() {
        return domains != null ? domains : material.get().domains();
    }

    /**
     * The certificate chain, leaf first; empty for {@link #sslContext(SslContext, String...)}
     * sources. Reads the files if they have not been read yet.
     *
     * @throws IllegalArgumentException if the files cannot be read
     */
    public List<X509Certificate> certificateChain() {
        return material == null ? List.of() : material.get().chain();
    }

    /**
     * The private key of the leaf certificate, for building a server TLS context; empty for
     * {@link #sslContext(SslContext, String...)} sources. Reads the files if they have not been
     * read yet.
     *
     * @throws IllegalArgumentException if the files cannot be read
     */
    public Optional<PrivateKey> privateKey() {
        return material == null ? Optional.empty() : Optional.of(material.get().privateKey());
    }

    /** The caller's context of an {@link #sslContext(SslContext, String...)} source; empty otherwise. */
    public Optional<SslContext> providedContext() {
        return Optional.ofNullable(sslContext);
    }

    /** Where this came from, e.g. {@code certificate /etc/tls/site.pem}; used in messages. */
    public String description() {
        return description;
    }

    /** Names the source and its domains, if known (given, or the files already read); never reads the files. */
    @Override
    public String toString() {
        List<String> known = domains != null ? domains
                : material != null && material.read != null ? material.read.domains() : null;
        return "CertificateSource[" + description + " domains=" + (known == null ? "(not read yet)" : known)
                + (clientAuth.mode() == ClientAuth.Mode.NONE ? "" : " " + clientAuth) + "]";
    }

    private static List<String> checkDomains(String... patterns) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : patterns) {
            out.add(DomainNames.certificateDomain(p));
        }
        return List.copyOf(out);
    }

    /** The key material, read at most once (a failed read is tried again next time, and fails the same way). */
    private static final class Material {
        private final Supplier<KeyMaterial> reader;
        private volatile KeyMaterial read;

        Material(Supplier<KeyMaterial> reader) {
            this.reader = reader;
        }

        KeyMaterial get() {
            KeyMaterial m = read;
            if (m == null) {
                synchronized (this) {
                    m = read;
                    if (m == null) {
                        m = reader.get();
                        read = m;
                    }
                }
            }
            return m;
        }
    }
}
