package dev.smartproxy.config;

import dev.smartproxy.internal.util.KeyMaterial;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Whether clients must present a certificate (mutual TLS) when they reach a name served by a
 * {@link CertificateSource}, and which certificate authorities they are checked against. It is
 * set on the certificate ({@link CertificateSource#clientAuth(ClientAuth)}), because the proxy
 * chooses the certificate, and with it the whole TLS configuration, by SNI during the handshake,
 * before any route that depends on the request (Host, path, headers) can be known.
 *
 * <ul>
 *   <li>{@link #none()} (the default): no certificate is asked for.</li>
 *   <li>{@link #optional(Path)}: a certificate is asked for; a client without one gets in; a
 *       client whose certificate does not verify against the CAs is refused in the handshake
 *       (reason {@code CLIENT_CERTIFICATE_REJECTED}).</li>
 *   <li>{@link #required(Path)}: as optional, and a client without a certificate is refused in
 *       the handshake (reason {@code CLIENT_CERTIFICATE_MISSING}).</li>
 * </ul>
 * A certificate verifies when it chains to one of the CA certificates (PKIX, validity dates
 * checked, no revocation check). The CA file is read when first needed: at
 * {@code SmartProxy.start()}, or by {@link #trustedCertificates()}.
 *
 * <p><b>The subject header.</b> With {@link #subjectHeader(String)}, every request on a
 * connection that presented a verified certificate is forwarded with that header set to the
 * certificate's subject as an RFC 2253 distinguished name (for example
 * {@code CN=alice,O=Example}); characters outside printable ASCII are written as RFC 2253
 * {@code \hh} escapes of their UTF-8 bytes. A header of that name sent by the client (also spelt
 * with {@code _} for {@code -}) is always removed, on every connection of the proxy, TLS or
 * not, certificate or not: a backend can trust it. Default: no header.
 * <pre>{@code
 * CertificateSource admin = CertificateSource.pemFiles(Path.of("admin.crt"), Path.of("admin.key"))
 *         .clientAuth(ClientAuth.required(Path.of("clients-ca.pem")).subjectHeader("X-Client-Subject"));
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ClientAuth {
    /** Whether a client certificate is asked for and whether it is needed. */
    public enum Mode {
        /** No certificate is asked for. */
        NONE,
        /** A certificate is asked for; without one the client still gets in. */
        OPTIONAL,
        /** A certificate is asked for and needed. */
        REQUIRED
    }

    /** Header names the proxy sets or that frame a message: never a subject header. */
    private static final Set<String> RESERVED = Set.of("host", "content-length", "transfer-encoding", "connection",
            "upgrade", "keep-alive", "proxy-connection", "te", "trailer", "forwarded", "cookie", "authorization");
    private static final ClientAuth NONE = new ClientAuth(Mode.NONE, null, null, null);

    private final Mode mode;
    private final String caDescription;
    private final CaCertificates cas;
    private final String subjectHeader;

    private ClientAuth(Mode mode, String caDescription, CaCertificates cas, String subjectHeader) {
        this.mode = mode;
        this.caDescription = caDescription;
        this.cas = cas;
        this.subjectHeader = subjectHeader;
    }

    /** No client certificate is asked for: the default of every certificate. */
    public static ClientAuth none() {
        return NONE;
    }

    /**
     * A client certificate is asked for and, if presented, must verify against the CA
     * certificates in the PEM file {@code caCertificatesPem} (read when first needed).
     */
    public static ClientAuth optional(Path caCertificatesPem) {
        return fromFile(Mode.OPTIONAL, caCertificatesPem);
    }

    /**
     * A client certificate is needed and must verify against the CA certificates in the PEM file
     * {@code caCertificatesPem} (read when first needed).
     */
    public static ClientAuth required(Path caCertificatesPem) {
        return fromFile(Mode.REQUIRED, caCertificatesPem);
    }

    /**
     * As {@link #optional(Path)} or {@link #required(Path)} (by {@code mode}), with the CA
     * certificates given as PEM text, checked at once.
     *
     * @throws IllegalArgumentException if {@code mode} is {@code NONE} or the text holds no certificate
     */
    public static ClientAuth pem(Mode mode, String caCertificatesPem) {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(caCertificatesPem, "caCertificatesPem");
        if (mode == Mode.NONE) {
            throw new IllegalArgumentException("clientAuth mode: NONE (expected: OPTIONAL or REQUIRED with CA"
                    + " certificates; ClientAuth.none() asks for no certificate)");
        }
        String name = "client CA PEM text";
        List<X509Certificate> certs = KeyMaterial.parseCertificates(name, caCertificatesPem);
        return new ClientAuth(mode, name, new CaCertificates(() -> certs), null);
    }

    private static ClientAuth fromFile(Mode mode, Path file) {
        Objects.requireNonNull(file, "caCertificatesPem");
        String name = "client CA " + file;
        return new ClientAuth(mode, name, new CaCertificates(() -> KeyMaterial.parseCertificates(name,
                readPem(name, file))), null);
    }

    private static String readPem(String name, Path file) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(name + ": no such file (expected: an existing, readable PEM file)", e);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(name + ": permission denied (expected: a readable PEM file)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(name + ": cannot read: " + e + " (expected: a readable PEM file)", e);
        }
    }

    /**
     * A copy that passes the verified client certificate's subject to backends in the header
     * {@code name} (see the class comment). Default: none.
     *
     * @throws IllegalArgumentException if this is {@link #none()}, the name is not an HTTP token,
     *         or it is a header the proxy manages ({@code Host}, framing and hop-by-hop headers,
     *         {@code Forwarded}, {@code X-Forwarded-*}, {@code Cookie}, {@code Authorization})
     */
    public ClientAuth subjectHeader(String name) {
        Objects.requireNonNull(name, "subjectHeader");
        if (mode == Mode.NONE) {
            throw new IllegalArgumentException("subjectHeader: " + name + " on ClientAuth.none() (expected:"
                    + " ClientAuth.optional(...) or ClientAuth.required(...))");
        }
        if (name.isEmpty() || !name.chars().allMatch(ClientAuth::tokenChar)) {
            throw new IllegalArgumentException("subjectHeader: '" + name + "' (expected: an HTTP header name,"
                    + " letters, digits and !#$%&'*+-.^_`|~ only)");
        }
        String folded = name.toLowerCase(Locale.ROOT).replace('_', '-');
        if (RESERVED.contains(folded) || folded.startsWith("x-forwarded-")) {
            throw new IllegalArgumentException("subjectHeader: " + name + " (expected: a header the proxy does not"
                    + " manage, e.g. X-Client-Subject)");
        }
        return new ClientAuth(mode, caDescription, cas, name);
    }

    private static boolean tokenChar(int c) {
        return c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0;
    }

    /** Whether a certificate is asked for, and needed. */
    public Mode mode() {
        return mode;
    }

    /** The header the verified subject is forwarded in; empty by default. */
    public Optional<String> subjectHeader() {
        return Optional.ofNullable(subjectHeader);
    }

    /**
     * The CA certificates client certificates are checked against; empty for {@link #none()}.
     * Reads the file if it has not been read yet.
     *
     * @throws IllegalArgumentException if the file cannot be read or holds no certificate
     */
    public List<X509Certificate> trustedCertificates() {
        return cas == null ? List.of() : cas.get();
    }

    /** Names the mode, the CA source and the header; never reads the file. */
    @Override
    public String toString() {
        return mode == Mode.NONE ? "ClientAuth[none]" : "ClientAuth[" + mode.name().toLowerCase(Locale.ROOT) + " "
                + caDescription + (subjectHeader == null ? "" : " subjectHeader=" + subjectHeader) + "]";
    }

    /** The CA certificates, read at most once (a failed read is tried again next time). */
    private static final class CaCertificates {
        private final Supplier<List<X509Certificate>> reader;
        private volatile List<X509Certificate> read;

        CaCertificates(Supplier<List<X509Certificate>> reader) {
            this.reader = reader;
        }

        List<X509Certificate> get() {
            List<X509Certificate> c = read;
            if (c == null) {
                synchronized (this) {
                    c = read;
                    if (c == null) {
                        c = reader.get();
                        read = c;
                    }
                }
            }
            return c;
        }
    }
}
