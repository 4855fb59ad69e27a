package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.event.TlsHandshake;
import dev.smartproxy.event.WebSocketClose;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The event listeners of a proxy, immutable, with for each event type the listeners that
 * override its method: an event is built (its {@link ConnectionInfo} snapshot included) only when
 * some listener wants it, so a listener of HTTP exchanges alone (an access log, a metrics binder)
 * costs the connection events nothing. Which methods a listener class overrides is found by
 * reflection once per class ({@link #OVERRIDES}): a method whose implementation is
 * {@link ProxyEventListener}'s own no-op default is not wanted. Each type's listeners keep the
 * order they were added in.
 */
final class ListenerSet {
    /** The listener methods, one per event type. */
    enum Event {
        ACCEPTED("onAccepted", ConnectionInfo.class),
        CLASSIFIED("onClassified", ConnectionInfo.class),
        INACTIVITY_WARNING("onInactivityWarning", ConnectionInfo.class),
        HALF_CLOSED("onHalfClosed", ConnectionInfo.class, CloseReason.Side.class),
        CLOSED("onClosed", ConnectionInfo.class),
        BACKEND_CONNECTED("onBackendConnected", ConnectionInfo.class, InetSocketAddress.class, Duration.class),
        TLS_HANDSHAKE("onTlsHandshake", ConnectionInfo.class, TlsHandshake.class),
        HTTP_EXCHANGE("onHttpExchange", HttpExchange.class),
        WEBSOCKET_UPGRADED("onWebSocketUpgraded", ConnectionInfo.class, String.class),
        WEBSOCKET_CLOSED("onWebSocketClosed", ConnectionInfo.class, WebSocketClose.class),
        ROUTES_UPDATED("onRoutesUpdated", RouteUpdate.class);

        private final String method;
        private final Class<?>[] parameters;

        Event(String method, Class<?>... parameters) {
            this.method = method;
            this.parameters = parameters;
        }
    }

    private static final Event[] EVENTS = Event.values();

    /** Per listener class: which event methods it overrides, by {@link Event} ordinal. */
    private static final ClassValue<boolean[]> OVERRIDES = new ClassValue<>() {
        @Override
        protected boolean[] computeValue(Class<?> type) {
            boolean[] wants = new boolean[EVENTS.length];
            for (Event e : EVENTS) {
                try {
                    wants[e.ordinal()] = type.getMethod(e.method, e.parameters).getDeclaringClass()
                            != ProxyEventListener.class;
                } catch (NoSuchMethodException | SecurityException unknown) {
                    wants[e.ordinal()] = true; // cannot tell: deliver it
                }
            }
            return wants;
        }
    };

    static final ListenerSet EMPTY = new ListenerSet(List.of());

    private final List<ProxyEventListener> all;
    private final ProxyEventListener[][] byEvent = new ProxyEventListener[EVENTS.length][];

    ListenerSet(List<ProxyEventListener> listeners) {
        this.all = List.copyOf(listeners);
        List<List<ProxyEventListener>> lists = new ArrayList<>();
        for (int i = 0; i < EVENTS.length; i++) {
            lists.add(new ArrayList<>());
        }
        for (ProxyEventListener l : all) {
            boolean[] wants = OVERRIDES.get(l.getClass());
            for (int i = 0; i < EVENTS.length; i++) {
                if (wants[i]) {
                    lists.get(i).add(l);
                }
            }
        }
        for (int i = 0; i < EVENTS.length; i++) {
            byEvent[i] = lists.get(i).toArray(new ProxyEventListener[0]);
        }
    }

    /** Every listener, in the order added. */
    List<ProxyEventListener> all() {
        return all;
    }

    /** Whether some listener wants {@code event}. */
    boolean wants(Event event) {
        return byEvent[event.ordinal()].length != 0;
    }

    /** The listeners of {@code event}, in the order added; do not modify. */
    ProxyEventListener[] of(Event event) {
        return byEvent[event.ordinal()];
    }

    /** This set with {@code listener} added last. */
    ListenerSet with(ProxyEventListener listener) {
        List<ProxyEventListener> next = new ArrayList<>(all);
        next.add(listener);
        return new ListenerSet(next);
    }

    /** This set without the first listener equal to {@code listener}, or this set if there is none. */
    ListenerSet without(ProxyEventListener listener) {
        List<ProxyEventListener> next = new ArrayList<>(all);
        return next.remove(listener) ? new ListenerSet(next) : this;
    }
}
