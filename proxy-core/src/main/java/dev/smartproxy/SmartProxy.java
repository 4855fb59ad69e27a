package dev.smartproxy;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.event.ProxyStats;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.internal.util.Checks;
import dev.smartproxy.internal.util.engine.EngineConfig;
import dev.smartproxy.internal.util.engine.ProxyEngine;
import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.route.IpPattern;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.config.AdmissionSettings;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A route-based TCP/TLS proxy embedded in your application.
 *
 * <p>Build one with {@link #builder()}, {@link #start()} it, and {@link #close()} it when done:
 * <pre>{@code
 * try (SmartProxy proxy = SmartProxy.builder()
 *         .inactivityTimeout(Duration.ofHours(4))
 *         .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
 *         .keepAliveInactivityMultiplier(10)
 *         .route(Route.named("websocket-passthrough")
 *             .match(m -> m.ports(443).domains("ws.example.com"))
 *             .forward(f -> f.target("backend", 443).tls(TlsMode.PASSTHROUGH)))
 *         .build()
 *         .start()) {
 *     ...
 * }
 * }</pre>
 *
 * <p>The route table of a built proxy, {@link #routes()}, is the same pure function the proxy
 * runs per connection, so a configuration can be unit-tested without sockets (and without key
 * material: certificate files are read at {@link #start()}). The proxy listens on every port
 * its routes name; {@link Builder#listen(int, InetSocketAddress)} binds a route port elsewhere
 * (for example {@code 127.0.0.1:0} in a test) without changing the routes, and
 * {@link Builder#listenAllOn(InetAddress)} does so for every route port at once.
 *
 * <p>Thread-safe. {@code start()} and {@code close()} block; the accessors do not.
  *
 * <p>Over 600 lines on purpose, and one job: the facade is the state machine (built, started,
 * closed) over its runtime, whose lock also serialises the live updates (routes, certificates)
 * with start and close, and {@link Builder}, nested here so that users write
 * {@code SmartProxy.builder()...build()}, is the whole public configuration surface, one
 * validated setter per setting with its Javadoc and default. The rules across settings live in
 * {@code RouteRules} and the config records; the runtime lives behind
 * {@code internal.util.engine.ProxyEngine}.
 */
public final class SmartProxy implements AutoCloseable {
    private enum State { BUILT, STARTED, CLOSED }

    private final ConnectionPolicy policy;
    /** What the builder said about listen addresses, for the ports live updates add. */
    private final Map<Integer, InetSocketAddress> listenOverrides;
    private final InetAddress listenAll;
    private final InetAddress bindAddress;
    private final ProxyEngine engine;
    private final IpRules ipRules;
    private final AdmissionSettings admissionSettings;
    private State state = State.BUILT;

    private SmartProxy(Builder b, RouteTable routes, ConnectionPolicy policy, Map<Integer, InetSocketAddress> binds) {
        this.ipRules = b.ipRules.build();
        this.admissionSettings = b.admission.build();
        this.policy = policy;
        this.listenOverrides = Map.copyOf(b.listenOverrides);
        this.listenAll = b.listenAll;
        this.bindAddress = b.bindAddress;
        this.engine = ProxyEngine.create(new EngineConfig(routes, policy, binds, b.transport, b.ioThreads,
                List.copyOf(b.listeners), List.copyOf(b.certificates), b.defaultCertificate, b.httpSettings,
                b.webSocketSettings, Map.copyOf(b.proxyProtocol), ipRules, admissionSettings, b.watchCertificates));
    }

    /** A new builder with the default policy and no routes. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Reads and checks the certificates (their files are read here, if not before), builds
     * their TLS contexts, then binds one listener per route port and returns once all are bound.
     *
     * @return this proxy
     * @throws IllegalArgumentException  if a certificate cannot be read, does not match its key,
     *                                   has no domains, or gives no TLS context; nothing is bound
     *                                   then, and the proxy may be started again once it is fixed
     * @throws IllegalStateException     if the proxy was started or closed before, or the transport
     *                                   asked for is unavailable
     * @throws java.io.UncheckedIOException if a port cannot be bound; nothing stays bound then
     */
    public synchronized SmartProxy start() {
        if (state != State.BUILT) {
            throw new IllegalStateException("start(): the proxy is " + state.name().toLowerCase() + " (expected: built)");
        }
        engine.start();
        state = State.STARTED;
        return this;
    }

    /**
     * Stops the proxy: stops accepting, lets open connections finish for up to
     * {@code gracefulShutdownTimeout}, closes the rest with reason {@code SHUTDOWN}, and returns
     * when every channel and thread is gone. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (state == State.STARTED) {
            engine.shutdown(policy.gracefulShutdownTimeout());
        }
        state = State.CLOSED;
    }

    /**
     * Replaces every certificate, and the default certificate, without a restart. All or
     * nothing: each certificate is read (its files too), its key checked against it, its domains
     * found and its TLS context built before anything changes; then the new set takes over in one
     * step. Handshakes under way finish with the certificate they started with, and established
     * connections keep theirs; every handshake that starts after this returns gets the new set.
     * One INFO line reports each applied update (counts and serials); a certificate that expires
     * within 14 days is logged once (WARN).
     *
     * <p>A source keeps what it read, so to pick up renewed files pass new sources
     * ({@code CertificateSource.pemFiles(...)} again, or {@link CertificateSource#reload()}).
     * Before {@link #start()}, this replaces what {@code start()} will use (checked now, as
     * {@code start()} would). Updates are serialised with each other and with the file watcher
     * ({@link Builder#watchCertificates(Duration)}); accepts never wait for them.
     * <pre>{@code
     * proxy.updateCertificates(List.of(CertificateSource.pemFiles(Path.of("site.crt"), Path.of("site.key"))), null);
     * }</pre>
     *
     * @param certificates       the certificates, as {@link Builder#certificate} adds them; may be empty
     * @param defaultCertificate as {@link Builder#defaultCertificate}, or null for none
     * @throws IllegalArgumentException naming the certificate that cannot be used, or the route that
     *         would be left without a certificate (a route that terminates TLS, or a redirect or
     *         conditional block that must terminate it, with no certificate at all); nothing changed then
     * @throws IllegalStateException if the proxy is closed
     */
    public synchronized void updateCertificates(Collection<CertificateSource> certificates,
                                                CertificateSource defaultCertificate) {
        if (state == State.CLOSED) {
            throw new IllegalStateException("updateCertificates(): the proxy is closed (expected: built or started)");
        }
        Objects.requireNonNull(certificates, "certificates");
        List<CertificateSource> list = new ArrayList<>(certificates.size());
        for (CertificateSource c : certificates) {
            if (c == null) {
                throw new IllegalArgumentException("certificates[" + list.size() + "]: null (expected: a CertificateSource)");
            }
            list.add(c);
        }
        boolean none = list.isEmpty() && defaultCertificate == null;
        if (none) {
            // The routes in use now (routes() is the current table, whatever replaced it since build()).
            try {
                RouteRules.validateTable(routes().routes(), false); // the table checks build() runs
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("updateCertificates: no certificate, but " + e.getMessage(), e);
            }
        }
        for (int i = 0; i < list.size(); i++) {
            CertificateSource c = list.get(i);
            try {
                c.load();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("certificates[" + i + "]: " + e.getMessage(), e);
            }
        }
        if (defaultCertificate != null) {
            try {
                defaultCertificate.load();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("defaultCertificate: " + e.getMessage(), e);
            }
        }
        engine.updateCertificates(List.copyOf(list), defaultCertificate);
    }

    /**
     * The certificates in use, each with its serial, validity and days left: the listed ones in
     * order, then the default certificate unless it is listed too. Reflects
     * {@link #updateCertificates} and reloads by the file watcher at once. Before
     * {@link #start()}, the certificates it will use: their files are read now.
     *
     * @throws IllegalArgumentException before {@code start()}, if a certificate file cannot be read
     */
    public List<CertificateInfo> certificates() {
        return engine.certificates();
    }

    /** Same as {@link #close()}. */
    public void stop() {
        close();
    }

    /**
     * The route table in force: the built one, or the last one {@link #updateRoutes} applied.
     * Call {@link RouteTable#match} on it to test routing without sockets.
     */
    public RouteTable routes() {
        return engine.routes();
    }

    /**
     * Replaces the route set of the running proxy atomically; see
     * {@link #updateRoutes(Collection, Map)}. The listeners of new ports bind as the builder
     * said: its {@link Builder#listen} for the port, else {@link Builder#listenAllOn}, else
     * {@link Builder#bindAddress} with the route port.
     */
    public RouteUpdate updateRoutes(Collection<Route> routes) {
        return updateRoutes(routes, Map.of());
    }

    /**
     * Replaces the route set of the running proxy atomically, all or nothing, with the connections
     * of routes it leaves as they are untouched.
     *
     * <ol>
     *   <li>Validated exactly as {@link Builder#build()} validates (the certificate check against
     *       the certificates in force now); an invalid set throws the message {@code build()}
     *       would give and changes nothing.</li>
     *   <li>Listeners are bound for the ports no route used before ({@code listen} gives the
     *       address for any of them, else the builder's rules apply), before the new table is put
     *       in force; a failed bind closes what this call bound and throws, with nothing
     *       changed.</li>
     *   <li>The new table is put in force in one step: every connection accepted from then on,
     *       and every new HTTP request on an open connection, is routed by it; a connection
     *       being classified keeps the table it was accepted under.</li>
     *   <li>The listeners of ports no route uses any more are closed: they refuse connections
     *       once this returns. Ports in use before and after keep their very listener.</li>
     *   <li>Open connections whose route was removed or changed (same name, another definition;
     *       the retirement alone does not count) are kept, drained or closed as the route's
     *       {@link dev.smartproxy.route.RouteRetirement} says (a removed route's own, a changed
     *       route's new one), with reason {@code ROUTE_REMOVED} or {@code ROUTE_CHANGED}; all
     *       others are not touched. Each update judges what it changes: a route it leaves with
     *       the definition it had does not touch its connections again (a drain goes on), and a
     *       drain is cancelled when a later update restores the route to the definition the
     *       connection was routed by.</li>
     *   <li>One INFO log line, then {@link ProxyEventListener#onRoutesUpdated} on this thread.</li>
     * </ol>
     * An update equal to the set in force (equal routes in the same order, no new listen address)
     * changes nothing, touches no listener and no connection, and is still reported, with
     * {@link RouteUpdate#noChange()}. Updates are serialised (one at a time, with
     * {@code start}/{@code close}); accepts never wait for them. Round-robin positions carry over
     * for route names the new set keeps. A builder's {@link Builder#acceptProxyProtocol} port that
     * no route uses after an update stays configured and applies again when a route uses it.
     * <pre>{@code
     * RouteUpdate u = proxy.updateRoutes(List.of(api, web, Route.named("admin")
     *         .match(m -> m.ports(9443).domains("admin.example.com"))
     *         .forward(f -> f.target("10.0.0.9", 8443).tls(TlsMode.PASSTHROUGH)).build()));
     * }</pre>
     *
     * @param routes the new route set, in declaration order
     * @param listen route port to the address its listener binds, for ports this update adds; a
     *               port in use already may appear only with the address it was bound with
     * @return what changed
     * @throws IllegalStateException if the proxy is not started (before {@link #start()} the
     *         builder's table stays; build another proxy instead) or is closed
     * @throws IllegalArgumentException if the set is invalid, or {@code listen} names a port no
     *         route uses, a port in use with another address, or an unresolved address
     * @throws java.io.UncheckedIOException if a new port cannot be bound
     */
    public synchronized RouteUpdate updateRoutes(Collection<Route> routes, Map<Integer, InetSocketAddress> listen) {
        Objects.requireNonNull(routes, "routes");
        Objects.requireNonNull(listen, "listen");
        requireStarted("updateRoutes(...)");
        for (Map.Entry<Integer, InetSocketAddress> e : listen.entrySet()) {
            Checks.range("listen routePort", Objects.requireNonNull(e.getKey(), "listen routePort"), 1, 65535);
            InetSocketAddress a = Objects.requireNonNull(e.getValue(), "listen address");
            if (a.isUnresolved()) {
                throw new IllegalArgumentException("listen address: " + a + " (expected: a resolved address)");
            }
        }
        RouteTable table = RouteRules.validate(new ArrayList<>(routes), engine.hasCertificates(), policy);
        Map<Integer, InetSocketAddress> current = engine.listenAddresses();
        Map<Integer, InetSocketAddress> next = new LinkedHashMap<>();
        table.ports().stream().forEach(port -> {
            InetSocketAddress was = current.get(port);
            InetSocketAddress asked = listen.get(port);
            if (was != null && asked != null && !asked.equals(was)) {
                throw new IllegalArgumentException("listen routePort: " + port + " -> " + asked
                        + " (expected: no address for a port in use, or the one it is bound with: " + was + ")");
            }
            next.put(port, was != null ? was : asked != null ? asked : bindFor(port, listenOverrides, listenAll,
                    bindAddress));
        });
        for (int port : listen.keySet()) {
            if (!next.containsKey(port)) {
                throw new IllegalArgumentException("listen routePort: " + port + " (expected: a port some route uses: "
                        + table.ports() + ")");
            }
        }
        return engine.updateRoutes(table, Map.copyOf(next));
    }

    /** Where the listener of {@code port} binds by the builder's settings: listen, listenAllOn, bindAddress. */
    private static InetSocketAddress bindFor(int port, Map<Integer, InetSocketAddress> overrides, InetAddress listenAll,
                                             InetAddress any) {
        InetSocketAddress o = overrides.get(port);
        if (o != null) {
            return o;
        }
        return listenAll != null ? new InetSocketAddress(listenAll, 0)
                : any == null ? new InetSocketAddress(port) : new InetSocketAddress(any, port);
    }

    /** The proxy-wide connection policy. */
    public ConnectionPolicy policy() {
        return policy;
    }

    /** The proxy-wide IP allow and block lists, checked at accept; empty by default. */
    public IpRules ipRules() {
        return ipRules;
    }

    /** The per-IP limits, the proxy-wide maximum and the limiter; see {@link AdmissionSettings}. */
    public AdmissionSettings admission() {
        return admissionSettings;
    }

    /**
     * The address the listener for {@code routePort} is bound to, with the real port when it
     * was bound to port 0.
     *
     * @throws IllegalStateException if the proxy is not started
     * @throws IllegalArgumentException if no route uses {@code routePort}
     */
    public synchronized InetSocketAddress boundAddress(int routePort) {
        requireStarted("boundAddress(" + routePort + ")");
        InetSocketAddress a = engine.boundAddresses().get(routePort);
        if (a == null) {
            throw new IllegalArgumentException("routePort: " + routePort + " (expected: one of "
                    + engine.listenAddresses().keySet() + ")");
        }
        return a;
    }

    /**
     * Route port to bound address, for every listener.
     *
     * @throws IllegalStateException if the proxy is not started
     */
    public synchronized Map<Integer, InetSocketAddress> boundAddresses() {
        requireStarted("boundAddresses()");
        return Map.copyOf(engine.boundAddresses());
    }

    private void requireStarted(String call) {
        if (state != State.STARTED) {
            throw new IllegalStateException(call + ": the proxy is " + state.name().toLowerCase()
                    + " (expected: started)");
        }
    }

    /** Snapshots of the open connections, oldest first. */
    public List<ConnectionInfo> connections() {
        return engine.connections();
    }

    /**
     * Bytes the proxy holds on behalf of clients right now, proxy-wide, as counted against
     * {@link ConnectionPolicy#bufferBudget()}: pending data during backend connects, ClientHello
     * peeks and WebSocket frames being reassembled (not bytes queued for writing to a socket).
     * Zero when nothing is held; zero before {@link #start()}.
     */
    public long bufferedBytes() {
        return engine.bufferedBytes();
    }

    /** The counters: open connections by kind, accepted, closed by reason. */
    public ProxyStats stats() {
        return engine.stats();
    }

    /**
     * What the proxy has done, read now: byte rates (1 s, 10 s, 60 s), connections by kind, route,
     * close reason and backend, HTTP exchanges by route and status class with their latency,
     * WebSocket messages, TLS handshake failures by cause, the top client IPs; see
     * {@link ProxyMetrics}. Built on the calling thread without stopping traffic; cheap enough to
     * call once a second. All zeros before {@link #start()}.
     * <pre>{@code
     * ProxyMetrics m = proxy.metrics();
     * double inPerSecond = m.bytesIn().last10Seconds();
     * }</pre>
     */
    public ProxyMetrics metrics() {
        return engine.metrics();
    }

    /**
     * Adds an event listener, at any time (before or after {@link #start()}): it receives the
     * events that happen from now on, on the I/O threads, as a builder's
     * {@link Builder#listener listener} does. Adding the same listener twice delivers each event twice.
     */
    public void addListener(ProxyEventListener listener) {
        engine.addListener(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Removes a listener added here or with the builder; events already being delivered may still
     * reach it. Returns whether it was registered.
     */
    public boolean removeListener(ProxyEventListener listener) {
        return engine.removeListener(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Builds a {@link SmartProxy}. Setters validate at once and throw
     * {@link IllegalArgumentException} naming the setting and the expected range; rules that
     * span settings run in {@link #build()}. Not thread-safe.
     */
    public static final class Builder {
        private final List<Route> routeList = new ArrayList<>();
        private ConnectionPolicy.Builder policy = ConnectionPolicy.builder();
        private final Map<Integer, InetSocketAddress> listenOverrides = new LinkedHashMap<>();
        private InetAddress listenAll;
        private final List<ProxyEventListener> listeners = new ArrayList<>();
        private InetAddress bindAddress;
        private IoTransport transport = IoTransport.AUTO;
        private int ioThreads = Runtime.getRuntime().availableProcessors();
        private final List<CertificateSource> certificates = new ArrayList<>();
        private CertificateSource defaultCertificate;
        private HttpSettings httpSettings = HttpSettings.defaults();
        private WebSocketSettings webSocketSettings = WebSocketSettings.defaults();
        private final Map<Integer, List<IpPattern>> proxyProtocol = new LinkedHashMap<>();
        private final IpRules.Builder ipRules = IpRules.builder();
        private AdmissionSettings.Builder admission = AdmissionSettings.builder();
        private Duration watchCertificates = Duration.ZERO;

        private Builder() {
        }

        /**
         * Polls the files behind file-based certificates ({@link CertificateSource#pemFiles},
         * {@link CertificateSource#keyStore}) every {@code interval} from {@link SmartProxy#start()}
         * to {@link SmartProxy#close()}, on one daemon thread, and reloads a certificate whose
         * files' content changed (symlink swaps, as Kubernetes makes them, included). New
         * handshakes get the new certificate; connections keep theirs. Files that cannot be used
         * (unparseable, a key that does not match, only one of a pair written so far) are logged
         * as one WARN line naming them and the reason, and ignored: the certificate loaded before
         * stays, and the files are tried again when they change again. Certificates from PEM text
         * or an {@code SslContext} are not watched. Default {@link Duration#ZERO}: off; else
         * 100 ms to 1 day.
         * <pre>{@code
         * SmartProxy.builder().watchCertificates(Duration.ofSeconds(30))
         * }</pre>
         */
        public Builder watchCertificates(Duration interval) {
            watchCertificates = Checks.duration("watchCertificates", interval, Duration.ofMillis(100),
                    Duration.ofDays(1), true);
            return this;
        }

        /**
         * Adds addresses or CIDR blocks (IPv4, IPv6; IPv4-mapped folded) to the proxy-wide allow
         * list: when it is not empty, a client outside it is closed at accept, before any byte is
         * read, with {@code IP_BLOCKED}. Empty by default (everyone). Routes may add their own,
         * {@code Route.Builder.security}.
         */
        public Builder ipAllowList(String... patterns) {
            ipRules.allow(patterns);
            return this;
        }

        /**
         * Adds addresses or CIDR blocks to the proxy-wide block list: a client inside it is closed
         * at accept with {@code IP_BLOCKED}, even if the allow list names it (block wins). Empty by default.
         */
        public Builder ipBlockList(String... patterns) {
            ipRules.block(patterns);
            return this;
        }

        /**
         * Sets every admission limit at once, replacing earlier limit setters; later ones change
         * it further. See {@link AdmissionSettings}.
         */
        public Builder admission(AdmissionSettings settings) {
            admission = Objects.requireNonNull(settings, "admission").toBuilder();
            return this;
        }

        /** Edits the admission limits in place; see {@link AdmissionSettings}. */
        public Builder admission(Consumer<AdmissionSettings.Builder> edit) {
            Objects.requireNonNull(edit, "edit").accept(admission);
            return this;
        }

        /** See {@link AdmissionSettings#maxConnectionsPerIp()}: concurrent connections per client IP, 0 = no limit. Default 100. */
        public Builder maxConnectionsPerIp(int n) {
            admission.maxConnectionsPerIp(n);
            return this;
        }

        /**
         * See {@link AdmissionSettings#connectionRateLimitPerMinute()}: new connections per client IP
         * per minute, a token bucket refilled continuously; 0 = no limit. Default 300.
         */
        public Builder connectionRateLimitPerMinute(int n) {
            admission.connectionRateLimitPerMinute(n);
            return this;
        }

        /**
         * See {@link AdmissionSettings#maxConnections()}: connections open proxy-wide; at the maximum
         * the proxy stops accepting until one closes. 0 = no limit, the default.
         */
        public Builder maxConnections(int n) {
            admission.maxConnections(n);
            return this;
        }

        /**
         * Adds a server certificate for TLS termination; it serves the names it covers (its DNS
         * subject alternative names unless {@link CertificateSource#domains} says otherwise),
         * chosen by the client's SNI.
         */
        public Builder certificate(CertificateSource certificate) {
            certificates.add(Objects.requireNonNull(certificate, "certificate"));
            return this;
        }

        /**
         * The certificate for SNI names no other certificate covers, and for clients without SNI.
         * Without one, such handshakes fail cleanly (reason {@code TLS_HANDSHAKE_FAILED}).
         */
        public Builder defaultCertificate(CertificateSource certificate) {
            defaultCertificate = Objects.requireNonNull(certificate, "defaultCertificate");
            return this;
        }

        /** HTTP limits and timeouts for terminated and plain-HTTP routes. Default {@link HttpSettings#defaults()}. */
        public Builder http(HttpSettings settings) {
            httpSettings = Objects.requireNonNull(settings, "http");
            return this;
        }

        /**
         * The WebSocket heartbeat and frame limits on connections the proxy terminates (routes may
         * override them). Default {@link WebSocketSettings#defaults()}: a ping every 30 s.
         */
        public Builder webSocket(WebSocketSettings settings) {
            webSocketSettings = Objects.requireNonNull(settings, "webSocket");
            return this;
        }

        /** Adds a route. */
        public Builder route(Route route) {
            routeList.add(Objects.requireNonNull(route, "route"));
            return this;
        }

        /** Adds a route from its builder. */
        public Builder route(Route.Builder route) {
            return route(Objects.requireNonNull(route, "route").build());
        }

        /** Adds routes, in order. */
        public Builder routes(Collection<Route> routes) {
            routes.forEach(this::route);
            return this;
        }

        /**
         * Sets every connection setting at once (per-kind overrides included), replacing earlier
         * policy setters; later setters change it further.
         */
        public Builder policy(ConnectionPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy").toBuilder();
            return this;
        }

        /**
         * Overrides the keepalive treatment, inactivity timeout or maximum lifetime for every
         * connection of one kind, edited in place (calls add up). Precedence, setting by
         * setting: a route's own overrides ({@code Route.Builder.policy}) &gt; the kind's &gt; the
         * proxy-wide value. For example, passthrough connections (kept alive only by TCP
         * keepalive and this policy) {@code EXTENDED}, terminated ones {@code NORMAL}:
         * <pre>{@code
         * SmartProxy.builder()
         *     .policyFor(ConnectionKind.PASSTHROUGH, p -> p.keepAliveTreatment(KeepAliveTreatment.EXTENDED))
         *     .policyFor(ConnectionKind.TERMINATED, p -> p.inactivityTimeout(Duration.ofMinutes(30)))
         * }</pre>
         * Each connection's result is its {@link ConnectionInfo#policy()}. Same as
         * {@code policy(p -> p.passthroughOverrides(...))} and its siblings.
         */
        public Builder policyFor(ConnectionKind kind, Consumer<RoutePolicy.Builder> edit) {
            Objects.requireNonNull(edit, "edit");
            switch (Objects.requireNonNull(kind, "kind")) {
                case PASSTHROUGH -> policy.passthroughOverrides(edit);
                case TERMINATED -> policy.terminatedOverrides(edit);
                case PLAIN -> policy.plainOverrides(edit);
            }
            return this;
        }

        /** See {@link ConnectionPolicy#inactivityTimeout()}. Default 4 h. */
        public Builder inactivityTimeout(Duration timeout) {
            policy.inactivityTimeout(timeout);
            return this;
        }

        /** See {@link KeepAliveTreatment}. Default {@code NORMAL}. */
        public Builder keepAliveTreatment(KeepAliveTreatment treatment) {
            policy.keepAliveTreatment(treatment);
            return this;
        }

        /** See {@link ConnectionPolicy#keepAliveInactivityMultiplier()}. Default 6. */
        public Builder keepAliveInactivityMultiplier(int multiplier) {
            policy.keepAliveInactivityMultiplier(multiplier);
            return this;
        }

        /** See {@link ConnectionPolicy#extendedKeepAliveGrace()}. Default 10 min. */
        public Builder extendedKeepAliveGrace(Duration grace) {
            policy.extendedKeepAliveGrace(grace);
            return this;
        }

        /** See {@link ConnectionPolicy#maxConnectionLifetime()}. Default 24 h. */
        public Builder maxConnectionLifetime(Duration lifetime) {
            policy.maxConnectionLifetime(lifetime);
            return this;
        }

        /** See {@link ConnectionPolicy#extendedKeepAliveLifetime()}. Default 7 days. */
        public Builder extendedKeepAliveLifetime(Duration lifetime) {
            policy.extendedKeepAliveLifetime(lifetime);
            return this;
        }

        /** See {@link ConnectionPolicy#connectTimeout()}. Default 30 s. */
        public Builder connectTimeout(Duration timeout) {
            policy.connectTimeout(timeout);
            return this;
        }

        /** See {@link ConnectionPolicy#initialDataTimeout()}. Default 60 s. */
        public Builder initialDataTimeout(Duration timeout) {
            policy.initialDataTimeout(timeout);
            return this;
        }

        /** See {@link ConnectionPolicy#maxClientHelloSize()}. Default 64 KiB. */
        public Builder maxClientHelloSize(int bytes) {
            policy.maxClientHelloSize(bytes);
            return this;
        }

        /** See {@link ConnectionPolicy#maxPendingDataSize()}. Default 64 KiB. */
        public Builder maxPendingDataSize(long bytes) {
            policy.maxPendingDataSize(bytes);
            return this;
        }

        /**
         * See {@link ConnectionPolicy#bufferBudget()}: proxy-wide bytes held for clients, 64 KiB
         * to 1 TiB. Default a quarter of the JVM's direct memory, 4 MiB to 1 GiB.
         */
        public Builder bufferBudget(long bytes) {
            policy.bufferBudget(bytes);
            return this;
        }

        /** See {@link ConnectionPolicy#halfCloseGraceTls()}. Default 5 min. */
        public Builder halfCloseGraceTls(Duration grace) {
            policy.halfCloseGraceTls(grace);
            return this;
        }

        /** See {@link ConnectionPolicy#halfCloseGracePlain()}. Default 30 s. */
        public Builder halfCloseGracePlain(Duration grace) {
            policy.halfCloseGracePlain(grace);
            return this;
        }

        /** See {@link TcpKeepAlive}. Default on, 60 s idle, 10 s interval, 6 probes. */
        public Builder tcpKeepAlive(TcpKeepAlive keepAlive) {
            policy.tcpKeepAlive(keepAlive);
            return this;
        }

        /** See {@link ConnectionPolicy#gracefulShutdownTimeout()}. Default 30 s. */
        public Builder gracefulShutdownTimeout(Duration timeout) {
            policy.gracefulShutdownTimeout(timeout);
            return this;
        }

        /**
         * The local address every listener binds to, unless {@link #listen} says otherwise.
         * An IP literal; default all interfaces ({@code 0.0.0.0}/{@code ::}).
         */
        public Builder bindAddress(String ipLiteral) {
            bindAddress = Checks.ipLiteral("bindAddress", ipLiteral);
            return this;
        }

        /**
         * Binds the listener of route port {@code routePort} to {@code address} instead of
         * {@code bindAddress:routePort}. Routes still see {@code routePort}. Use port 0 for an
         * ephemeral port and read it back with {@link SmartProxy#boundAddress(int)}.
         */
        public Builder listen(int routePort, InetSocketAddress address) {
            Checks.range("listen routePort", routePort, 1, 65535);
            Objects.requireNonNull(address, "listen address");
            if (address.isUnresolved()) {
                throw new IllegalArgumentException("listen address: " + address + " (expected: a resolved address)");
            }
            listenOverrides.put(routePort, address);
            return this;
        }

        /**
         * Binds every route port's listener to {@code address} on an ephemeral port (port 0)
         * instead of {@code bindAddress:routePort}, in one call: the way to run a configuration
         * written for real ports (ranges included) in a test. Routes still see their own ports;
         * read each real port back with {@link SmartProxy#boundAddress(int)}. A
         * {@link #listen(int, InetSocketAddress)} for one port still wins for that port.
         * <pre>{@code
         * SmartProxy proxy = config().listenAllOn(InetAddress.getLoopbackAddress()).build().start();
         * int port = proxy.boundAddress(443).getPort();
         * }</pre>
         */
        public Builder listenAllOn(InetAddress address) {
            listenAll = Objects.requireNonNull(address, "listenAllOn");
            return this;
        }

        /**
         * Accepts a PROXY protocol header (v1 or v2, as HAProxy's {@code send-proxy} and
         * {@code send-proxy-v2}, AWS NLB, GCP and most balancers send it) on the listener of
         * {@code routePort}, from the peers in {@code trustedProxies} only (IP addresses or CIDR
         * blocks, IPv4 or IPv6; v4-mapped addresses folded). Default: no listener accepts one.
         *
         * <p>The client address a trusted proxy's header carries becomes THE client address of
         * the connection: admission (IP rules, limits), route {@code clientIps} matching,
         * {@code X-Forwarded-For}, {@code ConnectionInfo.clientAddress()}, events from
         * {@code onClassified} on, and log lines all see it ({@code onAccepted} fires before the
         * header is read, with the proxy's address). On such a listener:
         * <ul>
         *   <li>a trusted peer must open with a header: none closes with
         *       {@code PROXY_PROTOCOL_MISSING}; a malformed one with {@code PROXY_PROTOCOL_INVALID};
         *       a v1 line over 108 bytes or a v2 header (TLVs included) over 1 KiB with
         *       {@code PROXY_PROTOCOL_TOO_LARGE}; no complete header within
         *       {@code initialDataTimeout} with {@code PROXY_PROTOCOL_TIMEOUT}; nothing is forwarded
         *       for any of them;</li>
         *   <li>the LOCAL command (a balancer's health check), UNKNOWN and unspecified families
         *       keep the peer's own address; v2 TLVs are skipped;</li>
         *   <li>any other peer is a direct client, with its own address; if it sends a PROXY
         *       header anyway, it is closed with {@code PROXY_PROTOCOL_UNTRUSTED}.</li>
         * </ul>
         * Calling it again for the same port replaces its list.
         * <pre>{@code
         * SmartProxy.builder().acceptProxyProtocol(443, "10.0.0.0/8")   // behind an NLB in 10/8
         * }</pre>
         *
         * @throws IllegalArgumentException if the port is out of range, the list is empty or an
         *         entry is not an IP literal or CIDR block; {@link #build()} if no route uses the port
         */
        public Builder acceptProxyProtocol(int routePort, String... trustedProxies) {
            Checks.range("acceptProxyProtocol routePort", routePort, 1, 65535);
            Objects.requireNonNull(trustedProxies, "acceptProxyProtocol trustedProxies");
            if (trustedProxies.length == 0) {
                throw new IllegalArgumentException("acceptProxyProtocol trustedProxies: [] (expected: at least one "
                        + "IP address or CIDR block of the proxies in front, such as 10.0.0.0/8)");
            }
            List<IpPattern> trusted = new ArrayList<>();
            for (String t : trustedProxies) {
                if (t == null) {
                    throw new IllegalArgumentException("acceptProxyProtocol trustedProxies: null (expected: an IP "
                            + "address or CIDR block such as 10.0.0.0/8)");
                }
                try {
                    trusted.add(IpPattern.of(t));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("acceptProxyProtocol trustedProxies: '" + t
                            + "' (expected: an IP address or CIDR block such as 10.0.0.0/8)", e);
                }
            }
            proxyProtocol.put(routePort, List.copyOf(trusted));
            return this;
        }

        /** Adds an event listener; see {@link ProxyEventListener} for the order and threading. */
        public Builder listener(ProxyEventListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** The I/O transport. Default {@link IoTransport#AUTO}. */
        public Builder transport(IoTransport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** I/O threads: 1..1024. Default: the number of available processors. */
        public Builder ioThreads(int threads) {
            ioThreads = (int) Checks.range("ioThreads", threads, 1, 1024);
            return this;
        }

        /** Shortcut for {@code policy(p -> ...)}: edits the connection policy in place. */
        public Builder policy(Consumer<ConnectionPolicy.Builder> edit) {
            edit.accept(policy);
            return this;
        }

        /**
         * Builds the proxy (not started).
         *
         * @throws IllegalArgumentException if there are no routes, two routes share a name, a
         *         route terminates TLS with no certificate, a block or redirect route can never act
         *         as written (path or header conditions in front of a passthrough route for the
         *         same names; on ports of passthrough routes with no certificate at all), a
         *         {@code listen} override or {@code acceptProxyProtocol} names a port no route uses, or the policy's
         *         cross-setting rules fail
         */
        public SmartProxy build() {
            // RouteRules.validate, in two steps: the table's checks come before the policy's own.
            RouteTable table = RouteRules.validateTable(routeList, !certificates.isEmpty() || defaultCertificate != null);
            ConnectionPolicy built = policy.build();
            RouteRules.checkPolicies(table, built);
            Map<Integer, InetSocketAddress> binds = new LinkedHashMap<>();
            table.ports().stream().forEach(port -> binds.put(port, bindFor(port, listenOverrides, listenAll,
                    bindAddress)));
            for (int port : listenOverrides.keySet()) {
                if (!binds.containsKey(port)) {
                    throw new IllegalArgumentException("listen routePort: " + port + " (expected: a port some route uses: "
                            + table.ports() + ")");
                }
            }
            for (int port : proxyProtocol.keySet()) {
                if (!binds.containsKey(port)) {
                    throw new IllegalArgumentException("acceptProxyProtocol routePort: " + port
                            + " (expected: a port some route uses: " + table.ports() + ")");
                }
            }
            return new SmartProxy(this, table, built, Map.copyOf(binds));
        }
    }
}
