package dev.smartproxy.internal.tls;

import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ClientAuth;
import dev.smartproxy.route.DomainPattern;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.Mapping;

import dev.smartproxy.config.CertificateInfo;

import java.math.BigInteger;
import java.security.PrivateKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Locale;
import javax.security.auth.x500.X500Principal;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The server TLS contexts of the terminated path, chosen by SNI.
 *
 * <p>{@link #select(String)} tries, in order: an exact name (case-insensitive, one trailing dot
 * ignored); a wildcard {@code *.example.com} covering exactly one extra label; the default
 * certificate. When sources share a name, the first in the list wins. Every context is built
 * once, in {@link #of}: Netty {@code SslContextBuilder.forServer}, JDK provider, TLS 1.3 and
 * 1.2 only, ALPN offering {@code http/1.1}, and, when the source has a
 * {@link CertificateSource#clientAuth() ClientAuth}, a client-certificate request (optional or
 * required) verified by {@link ClientCertificates} against its CAs, on the JDK's engine and
 * OpenSSL's alike. A source made from a user {@link SslContext} is used as is.
 *
 * <p>As a {@link Mapping} it plugs into Netty's {@code SniHandler}; a null result (no match, no
 * default) must fail the handshake.
 * <pre>{@code
 * CertificateStore store = CertificateStore.of(List.of(site, api), site);
 * pipeline.addLast(new SniHandler(store));
 * }</pre>
 */
public final class CertificateStore implements Mapping<String, SslContext> {
    /** The protocols of contexts built here. */
    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private final Map<String, SslContext> exact;
    /** Keyed by the part after {@code *.}. */
    private final Map<String, SslContext> wildcard;
    private final SslContext defaultContext;
    /** The client authentication of each context built here (by identity); none for contexts absent. */
    private final Map<SslContext, ClientAuth> clientAuth;
    /** Every subject header name of every certificate, lower case. */
    private final Set<String> subjectHeaders;
    /** Whether any certificate asks for client certificates: if none does, no host is claimed by one. */
    private final boolean anyClientAuth;
    /** The sources, in order, as given. */
    private final List<CertificateSource> sources;
    /** The default source, or null. */
    private final CertificateSource defaultSource;
    /** The context of each source (by identity), for the next store to reuse. */
    private final Map<CertificateSource, SslContext> contexts;

    private CertificateStore(Map<String, SslContext> exact, Map<String, SslContext> wildcard,
                             SslContext defaultContext, Map<SslContext, ClientAuth> clientAuth,
                             List<CertificateSource> sources, CertificateSource defaultSource,
                             Map<CertificateSource, SslContext> contexts) {
        this.sources = sources;
        this.defaultSource = defaultSource;
        this.contexts = contexts;
        this.exact = exact;
        this.wildcard = wildcard;
        this.defaultContext = defaultContext;
        this.clientAuth = clientAuth;
        Set<String> headers = new LinkedHashSet<>();
        clientAuth.values().forEach(a -> a.subjectHeader()
                .ifPresent(h -> headers.add(h.toLowerCase(java.util.Locale.ROOT).replace('_', '-'))));
        this.subjectHeaders = Set.copyOf(headers);
        this.anyClientAuth = clientAuth.values().stream().anyMatch(a -> a.mode() != ClientAuth.Mode.NONE);
    }

    /**
     * Builds every context now.
     *
     * @param sources the certificates, each presented for its {@link CertificateSource#domains()}
     * @param defaultCertificate presented when no name matches or the client sends no SNI; null
     *        for none (such handshakes fail). It need not have domains; if it has, they are
     *        matched too, after {@code sources}.
     * @throws IllegalArgumentException if a source in {@code sources} has no domains, its files
     *         cannot be read (they are read here if not before), or a context cannot be built
     */
    public static CertificateStore of(List<CertificateSource> sources, CertificateSource defaultCertificate) {
        return of(sources, defaultCertificate, Map.of());
    }

    /**
     * As {@link #of(List, CertificateSource)}, taking the context of a source found (by
     * identity) in {@code prebuilt} instead of building it again: a store replacing another
     * rebuilds only what changed ({@link #contexts()}).
     */
    public static CertificateStore of(List<CertificateSource> sources, CertificateSource defaultCertificate,
                                      Map<CertificateSource, SslContext> prebuilt) {
        Objects.requireNonNull(sources, "certificates");
        Map<CertificateSource, SslContext> built = new IdentityHashMap<>();
        prebuilt.forEach((source, ctx) -> {
            if (sources.stream().anyMatch(s -> s == source) || source == defaultCertificate) {
                built.put(source, ctx);
            }
        });
        Map<String, SslContext> exact = new HashMap<>();
        Map<String, SslContext> wildcard = new HashMap<>();
        for (int i = 0; i < sources.size(); i++) {
            CertificateSource s = Objects.requireNonNull(sources.get(i), "certificates[" + i + "]");
            if (s.domains().isEmpty()) {
                throw new IllegalArgumentException("certificates[" + i + "]: " + s.description()
                        + " has no domains (expected: a certificate with DNS names, or .domains(...))");
            }
            register(s, built, exact, wildcard);
        }
        SslContext def = null;
        if (defaultCertificate != null) {
            def = register(defaultCertificate, built, exact, wildcard);
        }
        Map<SslContext, ClientAuth> auth = new IdentityHashMap<>();
        built.forEach((source, ctx) -> auth.put(ctx, source.clientAuth()));
        return new CertificateStore(Map.copyOf(exact), Map.copyOf(wildcard), def,
                java.util.Collections.unmodifiableMap(auth), List.copyOf(sources), defaultCertificate,
                java.util.Collections.unmodifiableMap(built));
    }

    /** The certificates, in the order given (the default certificate only if it was listed too). */
    public List<CertificateSource> sources() {
        return sources;
    }

    /** The default certificate, or null. */
    public CertificateSource defaultSource() {
        return defaultSource;
    }

    /** The context built for each source, by identity: what {@link #of(List, CertificateSource, Map)} reuses. */
    public Map<CertificateSource, SslContext> contexts() {
        return contexts;
    }

    /**
     * Every certificate once, in order, the default last unless it is also listed; see
     * {@link CertificateInfo}. The sources were read when this store was built, so this reads
     * no file.
     */
    public List<CertificateInfo> infos() {
        return infos(sources, defaultSource);
    }

    /**
     * As {@link #infos()}, for sources not (yet) in a store: reads their files if they have not
     * been read.
     *
     * @throws IllegalArgumentException if a file cannot be read
     */
    public static List<CertificateInfo> infos(List<CertificateSource> sources, CertificateSource defaultSource) {
        List<CertificateInfo> out = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            CertificateSource s = sources.get(i);
            if (indexOfIdentity(sources, s) == i) {
                out.add(info(s, s == defaultSource));
            }
        }
        if (defaultSource != null && indexOfIdentity(sources, defaultSource) < 0) {
            out.add(info(defaultSource, true));
        }
        return List.copyOf(out);
    }

    private static int indexOfIdentity(List<CertificateSource> sources, CertificateSource source) {
        for (int i = 0; i < sources.size(); i++) {
            if (sources.get(i) == source) {
                return i;
            }
        }
        return -1;
    }

    /** The info of one source, its files already read. */
    static CertificateInfo info(CertificateSource s, boolean isDefault) {
        List<X509Certificate> chain = s.certificateChain();
        if (chain.isEmpty()) {
            return new CertificateInfo(s.description(), s.domains(), isDefault, "", "", "", Instant.MIN, Instant.MAX);
        }
        X509Certificate leaf = chain.get(0);
        return new CertificateInfo(s.description(), s.domains(), isDefault,
                leaf.getSubjectX500Principal().getName(X500Principal.RFC2253),
                leaf.getIssuerX500Principal().getName(X500Principal.RFC2253), serialHex(leaf.getSerialNumber()),
                leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant());
    }

    /** Upper-case hex, two digits per byte, as {@code openssl x509 -serial} prints it. */
    static String serialHex(BigInteger serial) {
        String hex = serial.toString(16).toUpperCase(Locale.ROOT);
        return hex.length() % 2 == 0 ? hex : "0" + hex;
    }

    private static SslContext register(CertificateSource s, Map<CertificateSource, SslContext> built,
                                       Map<String, SslContext> exact, Map<String, SslContext> wildcard) {
        SslContext ctx = built.computeIfAbsent(s, CertificateStore::serverContext);
        for (String d : s.domains()) {
            if (d.startsWith("*.")) {
                wildcard.putIfAbsent(d.substring(2), ctx);
            } else {
                exact.putIfAbsent(d, ctx);
            }
        }
        return ctx;
    }

    /** The server context for a source: the user's as is, or a new one from the key and chain. */
    static SslContext serverContext(CertificateSource source) {
        if (source.providedContext().isPresent()) {
            return source.providedContext().get();
        }
        PrivateKey key = source.privateKey().orElseThrow();
        List<X509Certificate> chain = source.certificateChain();
        ClientAuth auth = source.clientAuth();
        X509ExtendedTrustManager clientVerifier = auth.mode() == ClientAuth.Mode.NONE ? null
                : ClientCertificates.trustManager(source.description() + " " + auth, auth.trustedCertificates());
        try {
            SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
                    .sslProvider(TlsProviders.provider())
                    .protocols(PROTOCOLS)
                    .applicationProtocolConfig(http11Alpn());
            if (clientVerifier != null) {
                b.trustManager(clientVerifier).clientAuth(auth.mode() == ClientAuth.Mode.REQUIRED
                        ? io.netty.handler.ssl.ClientAuth.REQUIRE : io.netty.handler.ssl.ClientAuth.OPTIONAL);
            }
            return b.build();
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException(source.description() + ": cannot build a TLS server context: "
                    + e.getMessage() + " (expected: a key and certificate the " + TlsProviders.provider() + " TLS provider accepts)", e);
        }
    }

    /** ALPN offering http/1.1; a peer without ALPN, or without http/1.1, still connects. */
    static ApplicationProtocolConfig http11Alpn() {
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                ApplicationProtocolNames.HTTP_1_1);
    }

    /**
     * The context for an SNI name (null: the client sent none): exact match, then one-label
     * wildcard, then the default. Null when nothing matches and there is no default.
     */
    public SslContext select(String sni) {
        if (sni != null) {
            String name = DomainPattern.normalize(sni);
            if (!name.isEmpty()) {
                SslContext ctx = exact.get(name);
                if (ctx != null) {
                    return ctx;
                }
                int dot = name.indexOf('.');
                if (dot > 0 && dot < name.length() - 1) {
                    ctx = wildcard.get(name.substring(dot + 1));
                    if (ctx != null) {
                        return ctx;
                    }
                }
            }
        }
        return defaultContext;
    }

    /**
     * The context of a certificate with client authentication that claims {@code host} the way
     * routes match names: its exact name, or a wildcard at ANY depth above it ({@code *.example.com}
     * claims {@code a.b.example.com}, which {@link #select} would not present it for). Null when
     * no certificate with client authentication claims the name. A request for such a host must
     * come over that certificate's handshake, or a client could reach a protected route through a
     * name only the default certificate serves.
     */
    public SslContext clientAuthClaiming(String host) {
        if (host == null || !anyClientAuth) {
            return null;
        }
        String name = DomainPattern.normalize(host);
        SslContext ctx = exact.get(name);
        if (ctx != null && clientAuth(ctx).mode() != ClientAuth.Mode.NONE) {
            return ctx;
        }
        for (int dot = name.indexOf('.'); dot > 0 && dot < name.length() - 1; dot = name.indexOf('.', dot + 1)) {
            ctx = wildcard.get(name.substring(dot + 1));
            if (ctx != null && clientAuth(ctx).mode() != ClientAuth.Mode.NONE) {
                return ctx;
            }
        }
        return null;
    }

    /** Same as {@link #select(String)}, for Netty's {@code SniHandler}. */
    @Override
    public SslContext map(String sni) {
        return select(sni);
    }

    /**
     * The client authentication of a context this store selected: {@link ClientAuth#none()} for
     * one it did not build from a source with client authentication.
     */
    public ClientAuth clientAuth(SslContext context) {
        ClientAuth a = context == null ? null : clientAuth.get(context);
        return a == null ? ClientAuth.none() : a;
    }

    /**
     * The subject header names of every certificate's {@link ClientAuth}, lower case, with
     * {@code -} for {@code _}: removed
     * from every request the proxy forwards, whatever connection it came on.
     */
    public Set<String> subjectHeaders() {
        return subjectHeaders;
    }

    /** Whether the store has any certificate, a default one included: whether TLS can be terminated at all. */
    public boolean hasAny() {
        return defaultContext != null || !exact.isEmpty() || !wildcard.isEmpty();
    }

    /** The default certificate's context, or null. */
    public SslContext defaultContext() {
        return defaultContext;
    }

    @Override
    public String toString() {
        return "CertificateStore[exact=" + exact.keySet() + " wildcard=" + wildcard.keySet().stream()
                .map(s -> "*." + s).toList() + " default=" + (defaultContext != null) + "]";
    }
}
