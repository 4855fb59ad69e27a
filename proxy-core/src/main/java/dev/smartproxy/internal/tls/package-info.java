/**
 * Internal: TLS termination contexts chosen by SNI ({@link dev.smartproxy.internal.tls.CertificateStore})
 * and backend re-encryption contexts ({@link dev.smartproxy.internal.tls.BackendTlsContexts}).
 * Like everything under {@code dev.smartproxy.internal}, it may change at any time and never
 * appears in a public signature; the module does not export it.
 */
package dev.smartproxy.internal.tls;
