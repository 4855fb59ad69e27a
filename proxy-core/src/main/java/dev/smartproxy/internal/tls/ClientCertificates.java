package dev.smartproxy.internal.tls;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.CloseReasons;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import javax.security.auth.x500.X500Principal;

/**
 * Client certificates on the terminated path (mutual TLS), the same for the JDK's TLS engine and
 * OpenSSL's:
 * <ul>
 *   <li>{@link #trustManager} checks a client's chain against configured CAs (PKIX) and marks a
 *       refusal so that it can be told apart from other handshake failures;</li>
 *   <li>{@link #failure} names why a handshake failed when a client certificate was the reason:
 *       missing where required, or not verified (the rule lives in {@link CloseReasons}, the one
 *       failure table);</li>
 *   <li>{@link #subject} reads the verified subject of a session as a header-safe RFC 2253 name.</li>
 * </ul>
 */
public final class ClientCertificates {
    private ClientCertificates() {
    }

    /** A client certificate that did not verify; the marker {@link #failure} looks for. */
    static final class Rejected extends CertificateException {
        Rejected(CertificateException cause) {
            super(CloseReasons.CLIENT_CERTIFICATE_REJECTED + cause.getMessage(), cause);
        }
    }

    /**
     * A trust manager that accepts client chains leading to one of {@code cas} and refuses every
     * server chain (it is only ever used by a server context).
     *
     * @throws IllegalArgumentException if the JDK cannot build a PKIX trust manager from them
     */
    static X509ExtendedTrustManager trustManager(String name, List<X509Certificate> cas) {
        X509TrustManager pkix;
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                ks.setCertificateEntry("ca-" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            pkix = null;
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    pkix = x;
                }
            }
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalArgumentException(name + ": cannot build a trust manager: " + e.getMessage()
                    + " (expected: CA certificates the JDK accepts)", e);
        }
        if (pkix == null) {
            throw new IllegalArgumentException(name + ": the JDK has no X.509 trust manager (expected: PKIX)");
        }
        return new Verifier(pkix);
    }

    /**
     * Why a handshake failed, if a client certificate was the reason:
     * {@link CloseReason#CLIENT_CERTIFICATE_REJECTED} when one was sent and did not verify,
     * {@link CloseReason#CLIENT_CERTIFICATE_MISSING} when none was sent where one is required;
     * null for any other failure.
     */
    public static CloseReason failure(Throwable cause) {
        return CloseReasons.clientCertificate(cause);
    }

    /**
     * The subject of the client's verified certificate, as an RFC 2253 name with every character
     * outside printable ASCII written as {@code \hh} escapes of its UTF-8 bytes (so it is always
     * a valid header value); null when the client sent no certificate.
     */
    public static String subject(SSLSession session) {
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
        if (chain == null || chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return null;
        }
        return headerSafe(leaf.getSubjectX500Principal().getName(X500Principal.RFC2253));
    }

    /** Escapes what is not printable ASCII as RFC 2253 {@code \hh} pairs of UTF-8 bytes. */
    static String headerSafe(String dn) {
        StringBuilder out = new StringBuilder(dn.length());
        for (int i = 0; i < dn.length(); ) {
            int cp = dn.codePointAt(i);
            int n = Character.charCount(cp);
            if (cp >= 0x20 && cp < 0x7f) {
                out.append((char) cp);
            } else {
                for (byte b : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8)) {
                    out.append('\\').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                            .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
                }
            }
            i += n;
        }
        return out.toString();
    }

    /** PKIX for client chains, a marked refusal when they fail; never trusts a server. */
    private static final class Verifier extends X509ExtendedTrustManager {
        private final X509TrustManager pkix;

        Verifier(X509TrustManager pkix) {
            this.pkix = pkix;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new Rejected(new CertificateException("empty chain"));
            }
            try {
                pkix.checkClientTrusted(chain, authType);
            } catch (CertificateException e) {
                throw new Rejected(e);
            } catch (RuntimeException e) {
                throw new Rejected(new CertificateException(e.getMessage(), e));
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a client-certificate verifier does not check servers");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            checkServerTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
        }
    }
}
