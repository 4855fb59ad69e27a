package dev.smartproxy.internal.tls;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the TLS implementation: OpenSSL (BoringSSL) through Netty's netty-tcnative when it is
 * on the class path and supports ALPN, the JDK's otherwise. Both are limited to TLS 1.2 and 1.3
 * with the same ALPN settings; OpenSSL is several times cheaper per handshake and per byte.
 */
public final class TlsProviders {
    private static final Logger log = LoggerFactory.getLogger(TlsProviders.class);
    private static final SslProvider PROVIDER = choose();

    private TlsProviders() {
    }

    private static SslProvider choose() {
        boolean openSsl;
        try {
            openSsl = OpenSsl.isAvailable() && SslProvider.isAlpnSupported(SslProvider.OPENSSL);
        } catch (LinkageError e) {
            openSsl = false;
        }
        SslProvider p = openSsl ? SslProvider.OPENSSL : SslProvider.JDK;
        log.debug("TLS provider: {}{}", p, openSsl ? " (" + OpenSsl.versionString() + ")" : "");
        return p;
    }

    /** The provider every context of this JVM uses. */
    public static SslProvider provider() {
        return PROVIDER;
    }
}
