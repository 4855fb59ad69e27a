package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.internal.transport.BackendConnector;
import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.internal.tls.BackendTlsContexts;
import dev.smartproxy.internal.tls.CertificateStore;
import io.netty.handler.ssl.SslContext;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.route.RouteTable;
import io.netty.channel.WriteBufferWaterMark;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** What every connection of one proxy shares: routes, policy, registry, transport. Thread-safe. */
public final class ProxyContext {

    /**
     * The route table in force and what derives from it: read once per connection at accept (and
     * once per HTTP request), replaced whole by a live update in one write.
     */
    private volatile RouteSnapshot routing;
    private final ConnectionPolicy policy;
    private final ConnectionRegistry registry;
    private final Transport transport;
    /**
     * Swapped whole by {@link #replaceCertificates}; a connection reads it once, when it starts
     * its handshake, and keeps that store for every later decision.
     */
    private volatile CertificateStore certificates;
    private final HttpSettings httpSettings;
    private final WebSocketSettings webSocketSettings;
    private final Map<BackendTls, SslContext> backendContexts = new ConcurrentHashMap<>();
    private final BufferBudget budget;
    private final BackendConnector connector;
    /** Route port to the proxies trusted to send a PROXY protocol header there; absent: not accepted. */
    private volatile Map<Integer, List<dev.smartproxy.route.IpPattern>> proxyProtocol = Map.of();
    private final AdmissionControl admission;

    public ProxyContext(RouteTable routes, ConnectionPolicy policy, ConnectionRegistry registry, Transport transport) {
        this(routes, policy, registry, transport, CertificateStore.of(List.of(), null), HttpSettings.defaults(),
                WebSocketSettings.defaults());
    }

    /** A context with a budget of its own, of {@code policy.bufferBudget()} bytes. */
    public ProxyContext(RouteTable routes, ConnectionPolicy policy, ConnectionRegistry registry, Transport transport,
                        CertificateStore certificates, HttpSettings httpSettings, WebSocketSettings webSocketSettings) {
        this(routes, policy, registry, transport, certificates, httpSettings, webSocketSettings,
                new BufferBudget(policy.bufferBudget()));
    }

    /** A context whose connections count what they hold for clients in {@code budget}: one per proxy; admits all. */
    public ProxyContext(RouteTable routes, ConnectionPolicy policy, ConnectionRegistry registry, Transport transport,
                        CertificateStore certificates, HttpSettings httpSettings, WebSocketSettings webSocketSettings,
                        BufferBudget budget) {
        this(routes, policy, registry, transport, certificates, httpSettings, webSocketSettings, budget,
                AdmissionControl.admitAll());
    }

    /** A context whose accept path admits connections by {@code admission}'s rules and limits. */
    public ProxyContext(RouteTable routes, ConnectionPolicy policy, ConnectionRegistry registry, Transport transport,
                        CertificateStore certificates, HttpSettings httpSettings, WebSocketSettings webSocketSettings,
                        BufferBudget budget, AdmissionControl admission) {
        this.admission = admission;
        this.budget = budget;
        this.certificates = certificates;
        this.httpSettings = httpSettings;
        this.webSocketSettings = webSocketSettings;
        this.routing = RouteSnapshot.of(routes);
        this.policy = policy;
        this.registry = registry;
        this.transport = transport;
        this.connector = new BackendConnector(transport, policy.connectTimeout());
    }

    /**
     * Accepts a PROXY protocol header (v1 or v2) on each listed route port, from the peers its
     * patterns match only. Set before the listeners start.
     */
    public ProxyContext acceptProxyProtocol(Map<Integer, List<dev.smartproxy.route.IpPattern>> trustedByPort) {
        this.proxyProtocol = Map.copyOf(trustedByPort);
        return this;
    }

    /** The proxies trusted to send a PROXY protocol header on {@code routePort}, or null if it takes none. */
    List<dev.smartproxy.route.IpPattern> proxyProtocolTrust(int routePort) {
        return proxyProtocol.get(routePort);
    }

    /** IP rules and connection limits: who gets in. */
    public AdmissionControl admission() {
        return admission;
    }

    /** Makes every backend connection of this proxy. */
    public BackendConnector connector() {
        return connector;
    }

    /**
     * The route table in force now. Code that decides for a connection reads {@link #routing()}
     * once and keeps that snapshot; this accessor is for logs and tests.
     */
    public RouteTable routes() {
        return routing.table();
    }

    /** The route snapshot in force now: read it once per decision and use only that one. */
    public RouteSnapshot routing() {
        return routing;
    }

    /**
     * Puts {@code next} in force: connections accepted (and HTTP requests read) from now on see
     * it. The caller serialises updates.
     */
    void routing(RouteSnapshot next) {
        this.routing = next;
    }

    public ConnectionPolicy policy() {
        return policy;
    }

    public ConnectionRegistry registry() {
        return registry;
    }

    public Transport transport() {
        return transport;
    }

    /**
     * Server certificates for TLS termination, chosen by SNI: the current store. Read it once per
     * connection (or decision), so that one connection never mixes two stores.
     */
    public CertificateStore certificates() {
        return certificates;
    }

    /**
     * Replaces the certificates in one write: handshakes already started finish with the old
     * store's context (their {@code SslHandler} holds it), new ones get {@code next}.
     */
    void replaceCertificates(CertificateStore next) {
        certificates = java.util.Objects.requireNonNull(next, "certificates");
    }

    /** HTTP limits and timeouts for terminated and plain-HTTP connections. */
    public HttpSettings httpSettings() {
        return httpSettings;
    }

    /** The proxy-wide WebSocket settings (routes may override them). */
    public WebSocketSettings webSocketSettings() {
        return webSocketSettings;
    }

    /**
     * The proxy-wide account of bytes held for clients (pending data, ClientHello peeks,
     * WebSocket frames being reassembled): one instance per proxy.
     */
    public BufferBudget budget() {
        return budget;
    }

    /**
     * Forgets the backend TLS contexts of configurations not in {@code inUse} (after a live route
     * update): connections that hold one keep using it; a request routed by the table before
     * that still needs one builds it again.
     */
    void retainBackendContexts(java.util.Set<BackendTls> inUse) {
        backendContexts.keySet().retainAll(inUse);
    }

    /** Backend TLS configurations with a context now (tests). */
    java.util.Set<BackendTls> backendContextKeys() {
        return java.util.Set.copyOf(backendContexts.keySet());
    }

    /** The client TLS context for a backend TLS configuration, built once and shared. */
    SslContext backendContext(BackendTls tls) {
        return backendContexts.computeIfAbsent(tls, BackendTlsContexts::clientContext);
    }

}
