package dev.smartproxy.micrometer;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.BackendMetrics;
import dev.smartproxy.metrics.LatencyHistogram;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.Rate;
import dev.smartproxy.metrics.RouteMetrics;
import dev.smartproxy.metrics.StatusClass;
import dev.smartproxy.metrics.TlsFailureCause;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * Binds a {@link SmartProxy}'s metrics ({@link SmartProxy#metrics()}) and its HTTP exchanges to a
 * Micrometer {@link MeterRegistry}. The README's "Micrometer and Prometheus" section lists every
 * meter with its type and tags.
 *
 * <pre>{@code
 * SmartProxyMetrics metrics = new SmartProxyMetrics(proxy, Tags.of("instance", "edge-1"));
 * metrics.bindTo(registry);
 * // ...
 * metrics.close();   // removes the meters and the listener
 * }</pre>
 *
 * <p><b>How values are read.</b> Counters ({@link FunctionCounter}) and gauges read a snapshot of
 * {@link SmartProxy#metrics()} that is taken again at most once per second (by the binder's
 * {@link Clock}) when a meter is read, so one scrape of many meters costs one snapshot. Counters
 * are the snapshot's totals since the proxy started; backend connect times are a
 * {@link FunctionTimer} over the snapshot's count and total. HTTP latency is a real
 * {@link Timer} ({@value #HTTP_REQUESTS}) recorded from {@link ProxyEventListener#onHttpExchange},
 * for the exchanges that end after {@link #bindTo}; its percentile histogram is off unless
 * {@link Builder#publishPercentileHistogram(boolean)} turns it on.
 *
 * <p><b>Keys that appear and disappear.</b> Routes, backends, close reasons and TLS failure
 * causes get their meters when a snapshot first shows them: the binder's own daemon thread
 * ({@code smartproxy-micrometer}) takes a snapshot every second for that, and {@link #close()}
 * stops it. A route removed by a route update keeps its meters until {@link #close()}: its
 * counters keep their last totals (they never go down, as a Prometheus {@code rate()} expects), and
 * its gauges read 0 once the snapshot no longer lists it. The keys are bounded by configuration:
 * route names, configured {@code host:port} targets, enum values. Client addresses and request
 * paths are never tags ({@link ProxyMetrics#topClients()} stays in the metrics API).
 *
 * <p>Thread-safe. One binder may be bound to several registries; {@link #close()} unbinds it
 * from all of them.
 *
 * <p>Over 600 lines on purpose, and one job: the binding of one proxy's metrics to registries.
 * Most of the length is the meter table itself (one registration per documented meter, with its
 * name, unit, tags and description) next to the one lock that makes registration, the refresh of
 * new keys and {@link #close()} safe against each other; the pieces that need none of that state
 * live apart ({@code Retained}).
 */
public final class SmartProxyMetrics implements MeterBinder, AutoCloseable {
    /** The HTTP exchange timer's name. */
    public static final String HTTP_REQUESTS = "smartproxy.http.requests";
    /** The {@code route} tag of HTTP exchanges the proxy answered without a route (404 no route, 400 ...). */
    public static final String NO_ROUTE = "<none>";
    /** The {@code status} tag of an HTTP exchange that ended before any response head was sent. */
    public static final String ABORTED = "aborted";

    static final Duration REFRESH = Duration.ofSeconds(1);
    /** How long {@link #close()} waits for a refresh that is running to end. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    /** The HTTP timers' slots per route: one per {@link StatusClass} (by ordinal), then {@link #ABORTED}. */
    private static final int ABORTED_SLOT = StatusClass.values().length;
    private static final String[] STATUS_TAGS = new String[ABORTED_SLOT + 1];

    static {
        for (StatusClass c : StatusClass.values()) {
            STATUS_TAGS[c.ordinal()] = c.label();
        }
        STATUS_TAGS[ABORTED_SLOT] = ABORTED;
    }

    private static final Logger log = LoggerFactory.getLogger(SmartProxyMetrics.class);

    private final Source proxy;
    private final Tags tags;
    private final Clock clock;
    private final boolean percentileHistogram;
    private final Duration refreshEvery;
    /** Replaced, never changed, under lock: iterating it on an I/O thread allocates nothing. */
    private volatile Binding[] bindings = new Binding[0];
    /** Only {@code onHttpExchange}: the proxy builds the events a listener overrides, no others. */
    private final ProxyEventListener listener = new ProxyEventListener() {
        @Override
        public void onHttpExchange(HttpExchange exchange) {
            record(exchange);
        }
    };

    private final Object lock = new Object();
    private ProxyMetrics snapshot;          // guarded by lock
    private long snapshotNanos;             // guarded by lock
    private ScheduledExecutorService refresher;   // guarded by lock
    private ScheduledExecutorService stoppedRefresher;   // guarded by lock
    /**
     * Written under lock. Every meter is registered, then kept (added to its binding's list) under
     * lock only if this is still false, else removed again: so after {@link #close()} has set it, no
     * meter a racing refresh or exchange registers stays in a registry.
     */
    private volatile boolean closed;

    /** Binds {@code proxy}'s metrics with no common tags, on the system clock. */
    public SmartProxyMetrics(SmartProxy proxy) {
        this(proxy, Tags.empty());
    }

    /** Binds {@code proxy}'s metrics with {@code tags} on every meter, on the system clock. */
    public SmartProxyMetrics(SmartProxy proxy, Iterable<Tag> tags) {
        this(proxy, tags, Clock.SYSTEM);
    }

    /**
     * Binds {@code proxy}'s metrics with {@code tags} on every meter; {@code clock} decides when a
     * snapshot is old enough (one second) to be taken again.
     */
    public SmartProxyMetrics(SmartProxy proxy, Iterable<Tag> tags, Clock clock) {
        this(builder(proxy).tags(tags).clock(clock));
    }

    private SmartProxyMetrics(Builder b) {
        this.proxy = b.proxy;
        this.tags = b.tags;
        this.clock = b.clock;
        this.percentileHistogram = b.percentileHistogram;
        this.refreshEvery = b.refreshEvery;
    }

    /** A builder, for the settings the constructors do not take. */
    public static Builder builder(SmartProxy proxy) {
        Objects.requireNonNull(proxy, "proxy");
        return new Builder(new Source() {
            @Override
            public ProxyMetrics metrics() {
                return proxy.metrics();
            }

            @Override
            public void addListener(ProxyEventListener listener) {
                proxy.addListener(listener);
            }

            @Override
            public void removeListener(ProxyEventListener listener) {
                proxy.removeListener(listener);
            }
        });
    }

    /** A builder over any source of metrics and events (tests use a scripted one). */
    static Builder builder(Source source) {
        return new Builder(Objects.requireNonNull(source, "source"));
    }

    /** What the binder needs of a proxy. */
    interface Source {
        ProxyMetrics metrics();

        void addListener(ProxyEventListener listener);

        void removeListener(ProxyEventListener listener);
    }

    /**
     * Registers the meters a snapshot of the proxy's metrics shows now, starts the refresh thread
     * (on the first call) and the HTTP exchange listener.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        Binding binding = new Binding(registry);
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("SmartProxyMetrics: closed (expected: bindTo before close())");
            }
            Binding[] bound = Arrays.copyOf(bindings, bindings.length + 1);
            bound[bound.length - 1] = binding;
            bindings = bound;
            if (refresher == null) {
                refresher = Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "smartproxy-micrometer");
                    t.setDaemon(true);
                    return t;
                });
                refresher.scheduleWithFixedDelay(this::tick, refreshEvery.toMillis(), refreshEvery.toMillis(),
                        TimeUnit.MILLISECONDS);
                proxy.addListener(listener);
            }
        }
        registerFixed(binding);
        refresh();
    }

    /**
     * Removes the HTTP exchange listener from the proxy, stops the refresh thread (waiting up to five
     * seconds for a refresh that is running to end) and removes this binder's meters from every
     * registry it was bound to. A meter that a refresh or an exchange already in delivery registers
     * while this runs is removed again at once. Idempotent; the proxy itself is not touched.
     */
    @Override
    public void close() {
        ScheduledExecutorService stop;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            stop = refresher;
            stoppedRefresher = refresher;
            refresher = null;
        }
        if (stop != null) {
            proxy.removeListener(listener);
            stop.shutdownNow();
            awaitRefresher(stop);
        }
        Binding[] bound;
        synchronized (lock) {
            bound = bindings;
            bindings = new Binding[0];
        }
        for (Binding b : bound) {
            b.removeAll();
        }
    }

    private static void awaitRefresher(ScheduledExecutorService stop) {
        try {
            if (!stop.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("SmartProxyMetrics: the refresh thread did not end within {}; closing without it",
                        CLOSE_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Takes a snapshot now and registers the meters of the keys it shows first. */
    ProxyMetrics refresh() {
        ProxyMetrics m;
        synchronized (lock) {
            m = take();
        }
        for (Binding b : bindings) {
            registerKeys(b, m);
        }
        return m;
    }

    /** The latest snapshot, taken again if it is a second old or more. */
    ProxyMetrics current() {
        synchronized (lock) {
            if (snapshot == null || clock.monotonicTime() - snapshotNanos >= REFRESH.toNanos()) {
                take();
            }
            return snapshot;
        }
    }

    /** Takes a snapshot and keeps, in it, the keys the previous one had and this one lacks. Under lock. */
    private ProxyMetrics take() {
        ProxyMetrics m = proxy.metrics();
        snapshot = snapshot == null ? m : Retained.merge(snapshot, m);
        snapshotNanos = clock.monotonicTime();
        return snapshot;
    }

    /** Waits up to {@code timeout} for the refresh thread to end after {@link #close()} (for tests). */
    boolean awaitStopped(Duration timeout) throws InterruptedException {
        ScheduledExecutorService stopped;
        synchronized (lock) {
            stopped = stoppedRefresher;
        }
        return stopped == null || stopped.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether the binder listens to the proxy's events (between the first bindTo and close). */
    boolean listening() {
        synchronized (lock) {
            return refresher != null;
        }
    }

    /** The listener this binder adds to the proxy (for tests). */
    ProxyEventListener listener() {
        return listener;
    }

    /** One run of the refresh thread (package-private so tests can run one on their own thread). */
    void tick() {
        try {
            ProxyMetrics m = current();
            for (Binding b : bindings) {
                registerKeys(b, m);
            }
        } catch (RuntimeException e) {
            log.warn("SmartProxyMetrics: refreshing the proxy's metrics failed: {}", e.toString());
        }
    }

    // ---- HTTP exchanges ------------------------------------------------------------------------

    /**
     * Times one exchange. Runs on an I/O thread: once a route's timer for a status class exists, this
     * allocates nothing (a map lookup by the route's name and an array slot).
     */
    private void record(HttpExchange e) {
        if (closed) {
            return;
        }
        String route = e.route() == null ? NO_ROUTE : e.route();
        int status = e.status();
        int slot = status >= 100 && status <= 599 ? StatusClass.of(status).ordinal() : ABORTED_SLOT;
        Duration duration = e.duration() == null ? Duration.ZERO : e.duration();
        for (Binding b : bindings) {
            Timer timer = b.timer(route, slot);
            if (timer != null) {
                timer.record(duration);
            }
        }
    }

    // ---- meters --------------------------------------------------------------------------------

    private void registerFixed(Binding b) {
        b.gauge("smartproxy.connections.open", "Client connections open now, routed or not", null, Tags.empty(),
                m -> (double) m.open());
        b.counter("smartproxy.connections.accepted", "Client connections accepted since start", null, Tags.empty(),
                m -> m.accepted());
        b.gauge("smartproxy.buffered", "Bytes held for clients now, as counted against the buffer budget",
                BaseUnits.BYTES, Tags.empty(), m -> (double) m.bufferedBytes());
        for (String direction : List.of("in", "out")) {
            Function<ProxyMetrics, Rate> rate = direction.equals("in") ? ProxyMetrics::bytesIn : ProxyMetrics::bytesOut;
            Tags t = Tags.of("direction", direction);
            b.counter("smartproxy.bytes", "Bytes received from (in) and sent to (out) clients", BaseUnits.BYTES, t,
                    m -> rate.apply(m).total());
            b.gauge("smartproxy.throughput", "Bytes per second from (in) and to (out) clients over a rolling window",
                    "bytes.per.second", t.and("window", "1s"), m -> rate.apply(m).lastSecond());
            b.gauge("smartproxy.throughput", "Bytes per second from (in) and to (out) clients over a rolling window",
                    "bytes.per.second", t.and("window", "10s"), m -> rate.apply(m).last10Seconds());
            b.gauge("smartproxy.throughput", "Bytes per second from (in) and to (out) clients over a rolling window",
                    "bytes.per.second", t.and("window", "60s"), m -> rate.apply(m).lastMinute());
        }
        for (ConnectionKind kind : ConnectionKind.values()) {
            Tags t = Tags.of("kind", kind.name());
            b.gauge("smartproxy.kind.connections.open", "Routed connections open now, by kind", null, t,
                    m -> (double) m.kind(kind).open());
            b.counter("smartproxy.kind.connections.routed", "Connections routed since start, by kind", null, t,
                    m -> m.kind(kind).routed());
            b.counter("smartproxy.kind.connections.closed", "Routed connections closed since start, by kind", null, t,
                    m -> m.kind(kind).closed());
        }
        b.gauge("smartproxy.websocket.connections.open", "WebSockets the proxy reads, open now", null, Tags.empty(),
                m -> (double) m.webSockets().open());
        b.counter("smartproxy.websocket.upgrades", "WebSocket upgrades through the proxy since start", null,
                Tags.empty(), m -> m.webSockets().upgraded());
        b.counter("smartproxy.websocket.messages", "WebSocket data messages from clients (in) and backends (out)",
                null, Tags.of("direction", "in"), m -> m.webSockets().messagesFromClients());
        b.counter("smartproxy.websocket.messages", "WebSocket data messages from clients (in) and backends (out)",
                null, Tags.of("direction", "out"), m -> m.webSockets().messagesFromBackends());
        b.counter("smartproxy.websocket.heartbeat.timeouts", "WebSockets closed because a peer stopped answering pings",
                null, Tags.empty(), m -> m.webSockets().heartbeatTimeouts());
    }

    private void registerKeys(Binding b, ProxyMetrics snapshot) {
        for (CloseReason reason : snapshot.closedByReason().keySet()) {
            if (b.keys.add("reason:" + reason)) {
                b.counter("smartproxy.connections.closed", "Client connections closed since start, by reason", null,
                        Tags.of("reason", reason.name()), m -> m.closedByReason().get(reason));
            }
        }
        for (String route : snapshot.byRoute().keySet()) {
            if (b.keys.add("route:" + route)) {
                Tags t = Tags.of("route", route);
                Function<ProxyMetrics, RouteMetrics> r = m -> m.byRoute().get(route);
                b.gauge("smartproxy.route.connections.open", "Connections open now, by route", null, t,
                        m -> r.apply(m) == null ? 0 : r.apply(m).open());
                b.counter("smartproxy.route.connections.routed", "Connections routed since start, by route", null, t,
                        m -> r.apply(m) == null ? null : r.apply(m).routed());
                b.counter("smartproxy.route.connections.closed", "Routed connections closed since start, by route",
                        null, t, m -> r.apply(m) == null ? null : r.apply(m).closed());
                b.counter("smartproxy.route.bytes", "Bytes from (in) and to (out) the clients of a route",
                        BaseUnits.BYTES, t.and("direction", "in"),
                        m -> r.apply(m) == null ? null : r.apply(m).bytesIn().total());
                b.counter("smartproxy.route.bytes", "Bytes from (in) and to (out) the clients of a route",
                        BaseUnits.BYTES, t.and("direction", "out"),
                        m -> r.apply(m) == null ? null : r.apply(m).bytesOut().total());
            }
        }
        for (String backend : snapshot.byBackend().keySet()) {
            if (b.keys.add("backend:" + backend)) {
                Tags t = Tags.of("backend", backend);
                Function<ProxyMetrics, BackendMetrics> k = m -> m.byBackend().get(backend);
                b.gauge("smartproxy.backend.connections.open", "Backend connections open now", null, t,
                        m -> k.apply(m) == null ? 0 : k.apply(m).open());
                b.counter("smartproxy.backend.connects", "Backend connections established since start", null, t,
                        m -> k.apply(m) == null ? null : k.apply(m).connects());
                b.counter("smartproxy.backend.connect.failures", "Backend connection attempts that failed", null, t,
                        m -> k.apply(m) == null ? null : k.apply(m).connectFailures());
                b.functionTimer("smartproxy.backend.connect", "Time to connect to a backend (TCP)", t,
                        m -> k.apply(m) == null ? null : k.apply(m).connectTime());
            }
        }
        registerTls(b, "client", snapshot.clientTlsFailures().keySet(), ProxyMetrics::clientTlsFailures);
        registerTls(b, "backend", snapshot.backendTlsFailures().keySet(), ProxyMetrics::backendTlsFailures);
    }

    private void registerTls(Binding b, String leg, Set<TlsFailureCause> causes,
                             Function<ProxyMetrics, Map<TlsFailureCause, Long>> counts) {
        for (TlsFailureCause cause : causes) {
            if (b.keys.add("tls:" + leg + ":" + cause)) {
                b.counter("smartproxy.tls.handshake.failures", "Failed TLS handshakes, by leg and cause", null,
                        Tags.of("leg", leg, "cause", cause.name()), m -> counts.apply(m).get(cause));
            }
        }
    }

    /** The meters of one registry this binder is bound to. */
    private final class Binding {
        final MeterRegistry registry;
        final Set<String> keys = ConcurrentHashMap.newKeySet();
        /** Every meter registered and kept; guarded by lock, unchanged once {@code closed} is set. */
        final List<Meter> meters = new ArrayList<>();
        /**
         * The HTTP timers by route name, each an array by status slot. An array is replaced, never
         * changed, under lock; the map's get publishes its contents to I/O threads.
         */
        final ConcurrentMap<String, Timer[]> timers = new ConcurrentHashMap<>();

        Binding(MeterRegistry registry) {
            this.registry = registry;
        }

        /** The route's timer for the status slot, registered on first use; null once closed. */
        Timer timer(String route, int slot) {
            Timer[] slots = timers.get(route);
            Timer timer = slots == null ? null : slots[slot];
            return timer != null ? timer : registerTimer(route, slot);
        }

        private Timer registerTimer(String route, int slot) {
            if (closed) {
                return null;
            }
            Timer timer = Timer.builder(HTTP_REQUESTS)
                    .description("HTTP exchanges, from the request head to the end of the response")
                    .tags(tags).tag("route", route).tag("status", STATUS_TAGS[slot])
                    .publishPercentileHistogram(percentileHistogram)
                    .register(registry);
            synchronized (lock) {
                if (!closed) {
                    Timer[] slots = timers.get(route);
                    if (slots != null && slots[slot] != null) {
                        return slots[slot];   // another I/O thread kept it first (the registry's same timer)
                    }
                    Timer[] updated = slots == null ? new Timer[STATUS_TAGS.length] : slots.clone();
                    updated[slot] = timer;
                    meters.add(timer);
                    timers.put(route, updated);
                    return timer;
                }
            }
            registry.remove(timer);
            return null;
        }

        void gauge(String name, String description, String unit, Tags t, ToDoubleFunction<ProxyMetrics> value) {
            if (closed) {
                return;
            }
            keep(Gauge.builder(name, SmartProxyMetrics.this, s -> value.applyAsDouble(s.current()))
                    .description(description).baseUnit(unit).tags(tags).tags(t).strongReference(true)
                    .register(registry));
        }

        /** A counter over a total that may be absent from a snapshot ({@code null}): it keeps its last value. */
        void counter(String name, String description, String unit, Tags t, Function<ProxyMetrics, Long> total) {
            if (closed) {
                return;
            }
            LastTotal last = new LastTotal();
            keep(FunctionCounter.builder(name, SmartProxyMetrics.this, s -> last.update(total.apply(s.current())))
                    .description(description).baseUnit(unit).tags(tags).tags(t).register(registry));
        }

        void functionTimer(String name, String description, Tags t, Function<ProxyMetrics, LatencyHistogram> h) {
            if (closed) {
                return;
            }
            LastHistogram last = new LastHistogram();
            keep(FunctionTimer.builder(name, SmartProxyMetrics.this,
                            s -> last.update(h.apply(s.current())).count(),
                            s -> last.update(h.apply(s.current())).total().toNanos(), TimeUnit.NANOSECONDS)
                    .description(description).tags(tags).tags(t).register(registry));
        }

        /** Keeps a meter just registered, or removes it again if the binder closed meanwhile. */
        private void keep(Meter meter) {
            synchronized (lock) {
                if (!closed) {
                    meters.add(meter);
                    return;
                }
            }
            registry.remove(meter);
        }

        /** Removes every kept meter from the registry. After {@code closed} is set. */
        void removeAll() {
            List<Meter> kept;
            synchronized (lock) {
                kept = new ArrayList<>(meters);
                meters.clear();
                timers.clear();
            }
            kept.forEach(registry::remove);
        }
    }

    /** The last total seen of a key: a counter never goes down, even when its key leaves the snapshot. */
    private static final class LastTotal {
        private long value;

        synchronized double update(Long total) {
            if (total != null && total > value) {
                value = total;
            }
            return value;
        }
    }

    /** The last histogram seen of a key, for a backend that leaves the snapshot. */
    private static final class LastHistogram {
        private LatencyHistogram value = LatencyHistogram.EMPTY;

        synchronized LatencyHistogram update(LatencyHistogram h) {
            if (h != null && h.count() >= value.count()) {
                value = h;
            }
            return value;
        }
    }

    /**
     * Settings of a {@link SmartProxyMetrics}: common tags (none), the clock ({@link Clock#SYSTEM})
     * and whether the HTTP timer publishes a percentile histogram (no).
     */
    public static final class Builder {
        private final Source proxy;
        private Tags tags = Tags.empty();
        private Clock clock = Clock.SYSTEM;
        private boolean percentileHistogram;
        private Duration refreshEvery = REFRESH;

        private Builder(Source proxy) {
            this.proxy = proxy;
        }

        /** How often the refresh thread runs (default one second; tests that run ticks themselves set it long). */
        Builder refreshEvery(Duration every) {
            this.refreshEvery = Objects.requireNonNull(every, "every");
            return this;
        }

        /** Tags added to every meter (default none). */
        public Builder tags(Iterable<Tag> tags) {
            this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
            return this;
        }

        /** The clock that ages snapshots (default {@link Clock#SYSTEM}). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Whether {@value SmartProxyMetrics#HTTP_REQUESTS} publishes a percentile histogram (Prometheus
         * {@code _bucket} series, for {@code histogram_quantile}); default false: count, sum and max only.
         */
        public Builder publishPercentileHistogram(boolean publish) {
            this.percentileHistogram = publish;
            return this;
        }

        /** The binder; bind it with {@link SmartProxyMetrics#bindTo}. */
        public SmartProxyMetrics build() {
            return new SmartProxyMetrics(this);
        }
    }
}
