package dev.smartproxy.internal.util.engine;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.route.IpPattern;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.RouteTable;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Everything a built {@code SmartProxy} hands to its runtime: validated, immutable.
 * {@code watchCertificates} is the poll interval of the certificate files, {@code ZERO} for none.
 */
public record EngineConfig(RouteTable routes, ConnectionPolicy policy, Map<Integer, InetSocketAddress> binds,
                           IoTransport transport, int ioThreads, List<ProxyEventListener> listeners,
                           List<CertificateSource> certificates, CertificateSource defaultCertificate,
                           HttpSettings http, WebSocketSettings webSocket,
                           Map<Integer, List<IpPattern>> proxyProtocol, IpRules ipRules,
                           AdmissionSettings admission, Duration watchCertificates) {
}
