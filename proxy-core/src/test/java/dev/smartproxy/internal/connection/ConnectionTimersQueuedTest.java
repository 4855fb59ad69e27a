package dev.smartproxy.internal.connection;

/**
 * Every timer case of {@link ConnectionTimersTest} again, with the connections armed in a
 * {@link TimerQueue} (one heap for all of them, one wake-up task on the clock) as the event
 * loop's scheduler arms them in the proxy.
 */
class ConnectionTimersQueuedTest extends ConnectionTimersTest {
    private TimerQueue queue;

    @Override
    Scheduler scheduler() {
        if (queue == null) {
            queue = new TimerQueue(clock, clock);
        }
        return queue;
    }
}
