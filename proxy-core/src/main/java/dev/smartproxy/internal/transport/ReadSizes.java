package dev.smartproxy.internal.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.MaxMessagesRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

/**
 * The receive-buffer sizing of the proxy's socket channels (client and backend), one instance
 * shared by all of them: the same adaptive sizing and read loop as Netty's default
 * ({@code AdaptiveRecvByteBufAllocator}: 64 bytes to 64 KiB, 2 KiB first, up 4 steps of its size
 * table as soon as a read fills the buffer, down one after two reads that would have fit the step
 * below; at most 16 reads per readiness event, as socket channels do by default, and only while
 * the last read filled its buffer), in fewer objects.
 *
 * <p>Netty's default makes an allocator per channel config (32 bytes) and, on a channel's first
 * read, a handle of three objects (the handle, its size calculator and a supplier: 112 bytes),
 * which every channel keeps for its life. Here the allocator is shared and the handle is one
 * object of 24 bytes with compact headers (32 without), so an idle relayed connection (two
 * channels) holds up to 220 bytes less.
 *
 * <p>Immutable and thread-safe; each channel's handle is used by its event loop only.
 * <pre>{@code
 * bootstrap.option(ChannelOption.RCVBUF_ALLOCATOR, ReadSizes.SOCKETS);
 * }</pre>
 */
public final class ReadSizes implements MaxMessagesRecvByteBufAllocator {
    private static final int INDEX_INCREMENT = 4;
    private static final int INDEX_DECREMENT = 1;
    /** 16, 32 .. 496 by 16, then 512 doubling up to the largest int power of two: Netty's size table. */
    private static final int[] SIZES;

    static {
        int n = 0;
        for (int i = 16; i < 512; i += 16) {
            n++;
        }
        for (int i = 512; i > 0; i <<= 1) {
            n++;
        }
        SIZES = new int[n];
        int k = 0;
        for (int i = 16; i < 512; i += 16) {
            SIZES[k++] = i;
        }
        for (int i = 512; i > 0; i <<= 1) {
            SIZES[k++] = i;
        }
    }

    /** (After the table, which it reads.) For socket channels: 64 B .. 64 KiB, 2 KiB first, 16 reads per event. */
    public static final ReadSizes SOCKETS = new ReadSizes(64, 2048, 65536, 16);

    /**
     * For the legs of a TCP relay (passthrough and plain routes): the same, up to 256 KiB per read.
     * Bulk relaying then costs fewer reads, writes and pipeline passes per byte (8 streams through
     * passthrough: 0.466 against 0.558 s/GiB at 64 KiB, one compare.sh tput run each); a relay that
     * only trickles never grows past its reads. Set on a channel with {@link #useForRelay}.
     */
    public static final ReadSizes RELAY = new ReadSizes(64, 2048, 256 * 1024, 16);

    /**
     * Makes {@code ch} read with {@link #RELAY} sizes from its next read on, keeping what its reads
     * so far taught it; nothing on a channel without the proxy's read sizing (local channels).
     */
    public static void useForRelay(Channel ch) {
        if (ch.config().getRecvByteBufAllocator() instanceof ReadSizes) {
            ch.config().setRecvByteBufAllocator(RELAY);
        }
    }

    private final int minIndex;
    private final int maxIndex;
    private final int initialIndex;
    private final int minCapacity;
    private final int maxCapacity;
    private final int maxMessagesPerRead;

    ReadSizes(int minimum, int initial, int maximum, int maxMessagesPerRead) {
        if (minimum <= 0 || initial < minimum || maximum < initial || maxMessagesPerRead <= 0) {
            throw new IllegalArgumentException("minimum " + minimum + ", initial " + initial + ", maximum " + maximum
                    + ", maxMessagesPerRead " + maxMessagesPerRead);
        }
        int min = indexOf(minimum);
        this.minIndex = SIZES[min] < minimum ? min + 1 : min;
        int max = indexOf(maximum);
        this.maxIndex = SIZES[max] > maximum ? max - 1 : max;
        int init = indexOf(initial);
        this.initialIndex = SIZES[init] > initial ? init - 1 : init;
        this.minCapacity = minimum;
        this.maxCapacity = maximum;
        this.maxMessagesPerRead = maxMessagesPerRead;
    }

    /** The index of {@code size} in the table, or of the next larger entry. */
    static int indexOf(int size) {
        int low = 0;
        int high = SIZES.length - 1;
        while (true) {
            if (high < low) {
                return low;
            }
            if (high == low) {
                return high;
            }
            int mid = (low + high) >>> 1;
            int a = SIZES[mid];
            int b = SIZES[mid + 1];
            if (size > b) {
                low = mid + 1;
            } else if (size < a) {
                high = mid - 1;
            } else if (size == a) {
                return mid;
            } else {
                return mid + 1;
            }
        }
    }

    @Override
    public Handle newHandle() {
        return new Sizer(this);
    }

    @Override
    public int maxMessagesPerRead() {
        return maxMessagesPerRead;
    }

    /** Shared by every channel: it cannot change. */
    @Override
    public MaxMessagesRecvByteBufAllocator maxMessagesPerRead(int maxMessagesPerRead) {
        if (maxMessagesPerRead != this.maxMessagesPerRead) {
            throw new UnsupportedOperationException("the proxy's shared read sizing reads at most "
                    + this.maxMessagesPerRead + " messages per event (asked: " + maxMessagesPerRead + ")");
        }
        return this;
    }

    /**
     * One channel's read state: 24 bytes with compact headers (32 without), all of Netty's handle and
     * calculator state in one object. The sizes in force are those of the channel's config, read as
     * they are needed (a channel switched by {@link #useForRelay} reads with the relay's from its next
     * read loop on); the socket sizes for a config whose allocator is not a {@code ReadSizes} (or
     * before the first read loop). No field for them: the config is kept anyway, for auto-read.
     *
     * <p>The size asked for by the last read, the index in the size table, the pending decrease and
     * the reads of this loop share one int ({@link #bits}): a read asks for at most the largest
     * guess (256 KiB), far below the 1 MiB the int keeps for it; a larger attempt (a buffer bigger
     * than asked for) is kept as {@link #ATTEMPT_MAX}, so a read that fills it neither ramps the
     * size up nor reads again in this loop (the next readiness event reads on).
     */
    static final class Sizer implements RecvByteBufAllocator.ExtendedHandle {
        private static final int ATTEMPT_BITS = 20;
        /** The largest attempt kept as it is. */
        static final int ATTEMPT_MAX = (1 << ATTEMPT_BITS) - 1;
        private static final int INDEX_SHIFT = ATTEMPT_BITS;
        /** The size table's length (52) fits 6 bits. */
        private static final int INDEX_MASK = 0x3F;
        private static final int DECREASE_NOW = 1 << 26;
        /** Reads in this read loop, at most 16 counted (5 bits, up to 31: saturated). */
        private static final int MESSAGES_SHIFT = 27;
        private static final int MESSAGES_MAX = 31;

        static {
            if (SIZES.length > INDEX_MASK + 1 || RELAY.maxCapacity > ATTEMPT_MAX || RELAY.maxMessagesPerRead >= MESSAGES_MAX) {
                throw new ExceptionInInitializerError("the sizer's bits are too few for the sizes");
            }
        }

        private ChannelConfig config;
        private int totalBytesRead;
        private int lastBytesRead;
        /** attempted bytes (bits 0-19), table index (20-25), decrease pending (26), reads of the loop (27-31). */
        private int bits;

        Sizer(ReadSizes sizes) {
            this.bits = sizes.initialIndex << INDEX_SHIFT;
        }

        private int index() {
            return (bits >>> INDEX_SHIFT) & INDEX_MASK;
        }

        private void index(int index) {
            bits = (bits & ~(INDEX_MASK << INDEX_SHIFT)) | (index << INDEX_SHIFT);
        }

        private int totalMessages() {
            return bits >>> MESSAGES_SHIFT;
        }

        /** The sizes in force: see the class comment. */
        private ReadSizes sizes() {
            ChannelConfig c = config;
            return c != null && c.getRecvByteBufAllocator() instanceof ReadSizes r ? r : SOCKETS;
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            return alloc.ioBuffer(guess());
        }

        @Override
        public int guess() {
            return clamp(SIZES[index()], sizes());
        }

        private static int clamp(int size, ReadSizes sizes) {
            return Math.min(Math.max(size, sizes.minCapacity), sizes.maxCapacity);
        }

        /** Adapts the next guess to a read (or a read loop's total) of {@code size} bytes. */
        private void record(int size) {
            ReadSizes sizes = sizes();
            int index = index();
            if (size <= SIZES[Math.max(0, index - INDEX_DECREMENT)]) {
                if ((bits & DECREASE_NOW) != 0) {
                    index(Math.max(index - INDEX_DECREMENT, sizes.minIndex));
                    bits &= ~DECREASE_NOW;
                } else {
                    bits |= DECREASE_NOW;
                }
            } else if (size >= clamp(SIZES[index], sizes)) {
                index(Math.min(index + INDEX_INCREMENT, sizes.maxIndex));
                bits &= ~DECREASE_NOW;
            }
        }

        @Override
        public void reset(ChannelConfig config) {
            this.config = config;
            ReadSizes r = sizes(); // the channel may have been switched (useForRelay): same table, other bounds
            index(Math.min(Math.max(index(), r.minIndex), r.maxIndex));
            bits &= ~(MESSAGES_MAX << MESSAGES_SHIFT);
            totalBytesRead = 0;
        }

        @Override
        public void incMessagesRead(int numMessages) {
            int n = Math.min(MESSAGES_MAX, totalMessages() + Math.max(0, numMessages));
            bits = (bits & ~(MESSAGES_MAX << MESSAGES_SHIFT)) | (n << MESSAGES_SHIFT);
        }

        @Override
        public void lastBytesRead(int bytes) {
            if (bytes == attemptedBytesRead()) {
                record(bytes); // it filled the buffer: maybe ramp up now
            }
            lastBytesRead = bytes;
            if (bytes > 0) {
                totalBytesRead += bytes;
            }
        }

        @Override
        public int lastBytesRead() {
            return lastBytesRead;
        }

        @Override
        public void attemptedBytesRead(int bytes) {
            bits = (bits & ~ATTEMPT_MAX) | Math.min(Math.max(bytes, 0), ATTEMPT_MAX);
        }

        @Override
        public int attemptedBytesRead() {
            return bits & ATTEMPT_MAX;
        }

        @Override
        public boolean continueReading() {
            return continueReading(attemptedBytesRead() == lastBytesRead);
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return config.isAutoRead() && maybeMoreDataSupplier.get() && more();
        }

        private boolean continueReading(boolean maybeMore) {
            return config.isAutoRead() && maybeMore && more();
        }

        private boolean more() {
            return totalMessages() < sizes().maxMessagesPerRead && totalBytesRead > 0;
        }

        @Override
        public void readComplete() {
            record(totalBytesRead < 0 ? Integer.MAX_VALUE : totalBytesRead);
        }
    }
}
