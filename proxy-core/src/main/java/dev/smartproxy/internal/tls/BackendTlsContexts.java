package dev.smartproxy.internal.tls;

import dev.smartproxy.config.BackendTls;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.NetUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * Client TLS contexts and handlers for re-encrypting to backends ({@link BackendTls}).
 *
 * <p>A context is TLS 1.3/1.2 on the JDK provider, ALPN offering {@code http/1.1}, trusting what
 * the {@link BackendTls} says; build it once per configuration and reuse it. Each backend
 * connection gets its own handler from {@link #newHandler}, which sets SNI and hostname
 * verification.
 * <pre>{@code
 * SslContext ctx = BackendTlsContexts.clientContext(tls);
 * ch.pipeline().addFirst(BackendTlsContexts.newHandler(ctx, tls, ch.alloc(), "backend.internal", 8443));
 * }</pre>
 */
public final class BackendTlsContexts {
    private static final Logger LOG = LoggerFactory.getLogger(BackendTlsContexts.class);

    private BackendTlsContexts() {
    }

    /**
     * A client context for {@code cfg}. Logs a WARN for an insecure configuration.
     *
     * @throws IllegalArgumentException if the JDK cannot build the context
     */
    public static SslContext clientContext(BackendTls cfg) {
        Objects.requireNonNull(cfg, "backendTls");
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(TlsProviders.provider())
                .protocols(CertificateStore.PROTOCOLS)
                .applicationProtocolConfig(CertificateStore.http11Alpn());
        if (cfg.insecure()) {
            LOG.warn("Backend TLS is INSECURE ({}): backend certificates and host names are NOT verified;"
                    + " anyone on the network path can read and change this traffic. Development only.", cfg);
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            if (!cfg.usesSystemTrust()) {
                b.trustManager(cfg.trustedCertificates().toArray(new X509Certificate[0]));
            }
            b.endpointIdentificationAlgorithm("HTTPS");
        }
        try {
            return b.build();
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException("backendTls: " + cfg + ": cannot build a TLS client context: "
                    + e.getMessage() + " (expected: certificates the JDK accepts)", e);
        }
    }

    /**
     * A handler for one backend connection to {@code targetHost:port}. SNI: the override of
     * {@code cfg}, else {@code targetHost} when it is a name, else none. Hostname verification
     * ({@code HTTPS} endpoint identification) is on unless {@code cfg} is insecure.
     */
    public static SslHandler newHandler(SslContext ctx, BackendTls cfg, ByteBufAllocator alloc,
                                        String targetHost, int port) {
        Objects.requireNonNull(ctx, "ctx");
        Objects.requireNonNull(cfg, "backendTls");
        Objects.requireNonNull(targetHost, "targetHost");
        String peerHost = unbracket(targetHost);
        SslHandler handler = ctx.newHandler(alloc, peerHost, port);
        SSLEngine engine = handler.engine();
        SSLParameters params = engine.getSSLParameters();
        String sni = sniFor(cfg, peerHost);
        List<SNIServerName> names = List.of();
        if (sni != null) {
            try {
                names = List.of(new SNIHostName(sni));
            } catch (IllegalArgumentException e) {
                // A name the JDK will not put in SNI (e.g. with '_'): connect without SNI rather than fail.
                LOG.debug("backend {}:{}: '{}' cannot be sent as SNI; sending none", peerHost, port, sni);
            }
        }
        params.setServerNames(names);
        params.setEndpointIdentificationAlgorithm(cfg.verifiesHostname() ? "HTTPS" : null);
        engine.setSSLParameters(params);
        return handler;
    }

    /** The SNI name to send: the override, else the host when it is a name; null for none. */
    static String sniFor(BackendTls cfg, String targetHost) {
        if (cfg.sni().isPresent()) {
            return cfg.sni().get();
        }
        String host = unbracket(targetHost);
        if (host.isEmpty() || NetUtil.createByteArrayFromIpAddressString(host) != null) {
            return null;
        }
        return host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    }

    private static String unbracket(String host) {
        String h = host.strip();
        return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }
}
