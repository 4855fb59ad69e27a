package dev.smartproxy.internal.transport;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.internal.SocketUtils;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Resolves backend host names on a small pool of lookup threads, never on an event loop: a slow
 * or failing DNS server delays only the connects that need it, not every connection sharing
 * the loop. Lookups use the JDK's resolver ({@code /etc/hosts}, the system's DNS, its cache);
 * results are delivered back on the connecting channel's event loop. IP literals never get here.
 */
final class OffLoopResolverGroup extends AddressResolverGroup<InetSocketAddress> {
    private static final int MAX_THREADS = 4;
    private static final int MAX_QUEUED = 10_000;

    private final ExecutorService lookups = new ThreadPoolExecutor(MAX_THREADS, MAX_THREADS, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(MAX_QUEUED), new DefaultThreadFactory("smartproxy-dns", true));

    OffLoopResolverGroup() {
        ((ThreadPoolExecutor) lookups).allowCoreThreadTimeOut(true);
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor loop) {
        return new InetNameResolver(loop) {
            @Override
            protected void doResolve(String host, Promise<InetAddress> promise) {
                submit(promise, () -> promise.trySuccess(SocketUtils.addressByName(host)));
            }

            @Override
            protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
                submit(promise, () -> promise.trySuccess(Arrays.asList(SocketUtils.allAddressesByName(host))));
            }
        }.asAddressResolver();
    }

    private interface Lookup {
        void run() throws UnknownHostException;
    }

    private void submit(Promise<?> promise, Lookup lookup) {
        try {
            lookups.execute(() -> {
                try {
                    lookup.run();
                } catch (UnknownHostException | RuntimeException e) {
                    promise.tryFailure(e);
                }
            });
        } catch (RejectedExecutionException e) {
            promise.tryFailure(new UnknownHostException("too many name lookups in flight (" + MAX_QUEUED + ")"));
        }
    }

    @Override
    public void close() {
        super.close();
        lookups.shutdownNow();
        try {
            lookups.awaitTermination(5, TimeUnit.SECONDS); // a lookup in flight may take that long to give up
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
