package dev.smartproxy.internal.transport;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The shared read sizing decides exactly as Netty's default for socket channels (adaptive,
 * 16 reads per event) over random read loops: the same buffer size asked for before every read
 * and the same decision to read again.
 */
class ReadSizesTest {
    /** Read loops of one read each that fill the buffer; returns the size asked for next. */
    private static int fillingReads(RecvByteBufAllocator.ExtendedHandle h, ChannelConfig config, int events) {
        for (int i = 0; i < events; i++) {
            h.reset(config);
            int g = h.guess();
            h.attemptedBytesRead(g);
            h.lastBytesRead(g);
            h.incMessagesRead(1);
            h.readComplete();
        }
        return h.guess();
    }

    @Test
    void aRelayLegReadsUpTo256KiBOnceSwitchedAndOtherChannelsStayAt64() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setRecvByteBufAllocator(ReadSizes.SOCKETS);
        RecvByteBufAllocator.ExtendedHandle h = (RecvByteBufAllocator.ExtendedHandle) ReadSizes.SOCKETS.newHandle();
        assertThat(fillingReads(h, ch.config(), 30)).isEqualTo(64 * 1024);
        ReadSizes.useForRelay(ch); // from the next read loop on
        assertThat(fillingReads(h, ch.config(), 30)).isEqualTo(256 * 1024);

        EmbeddedChannel local = new EmbeddedChannel(); // not the proxy's read sizing: left alone
        RecvByteBufAllocator before = local.config().getRecvByteBufAllocator();
        ReadSizes.useForRelay(local);
        assertThat((Object) local.config().getRecvByteBufAllocator()).isSameAs(before);
    }

    @Test
    void sameGuessesAndReadLoopDecisionsAsNettysAdaptiveDefault() {
        AdaptiveRecvByteBufAllocator netty = new AdaptiveRecvByteBufAllocator();
        netty.maxMessagesPerRead(16); // what a socket channel's config sets on its default allocator
        EmbeddedChannel ch = new EmbeddedChannel();
        ChannelConfig config = ch.config();
        Random rnd = new Random(7);
        for (int run = 0; run < 50; run++) {
            RecvByteBufAllocator.ExtendedHandle expected = (RecvByteBufAllocator.ExtendedHandle) netty.newHandle();
            RecvByteBufAllocator.ExtendedHandle actual = (RecvByteBufAllocator.ExtendedHandle) ReadSizes.SOCKETS.newHandle();
            for (int event = 0; event < 200; event++) {
                config.setAutoRead(rnd.nextInt(20) != 0);
                expected.reset(config);
                actual.reset(config);
                boolean useSupplier = rnd.nextBoolean();
                int reads = 0;
                while (true) {
                    assertThat(actual.guess()).isEqualTo(expected.guess());
                    int attempted = expected.guess();
                    expected.attemptedBytesRead(attempted);
                    actual.attemptedBytesRead(attempted);
                    int kind = rnd.nextInt(4);
                    int got = kind == 0 ? attempted : kind == 1 ? rnd.nextInt(attempted + 1)
                            : kind == 2 ? rnd.nextInt(64) : (rnd.nextInt(10) == 0 ? -1 : attempted);
                    expected.lastBytesRead(got);
                    actual.lastBytesRead(got);
                    assertThat(actual.lastBytesRead()).isEqualTo(expected.lastBytesRead());
                    if (got <= 0) {
                        break;
                    }
                    expected.incMessagesRead(1);
                    actual.incMessagesRead(1);
                    reads++;
                    boolean more = rnd.nextBoolean();
                    boolean e = useSupplier ? expected.continueReading(() -> more) : expected.continueReading();
                    boolean a = useSupplier ? actual.continueReading(() -> more) : actual.continueReading();
                    assertThat(a).as("run %d event %d read %d", run, event, reads).isEqualTo(e);
                    if (!e) {
                        break;
                    }
                }
                expected.readComplete();
                actual.readComplete();
                assertThat(actual.guess()).isEqualTo(expected.guess());
            }
        }
        ch.finishAndReleaseAll();
    }

    @Test
    void readsAtMostSixteenTimesPerEventAndCannotBeChanged() {
        assertThat(ReadSizes.SOCKETS.maxMessagesPerRead()).isEqualTo(16);
        assertThat(ReadSizes.SOCKETS.maxMessagesPerRead(16)).isSameAs(ReadSizes.SOCKETS);
        assertThatThrownBy(() -> ReadSizes.SOCKETS.maxMessagesPerRead(1))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("16");
        EmbeddedChannel ch = new EmbeddedChannel();
        RecvByteBufAllocator.ExtendedHandle h = (RecvByteBufAllocator.ExtendedHandle) ReadSizes.SOCKETS.newHandle();
        h.reset(ch.config());
        int reads = 0;
        while (true) {
            h.attemptedBytesRead(h.guess());
            h.lastBytesRead(h.guess());
            h.incMessagesRead(1);
            reads++;
            if (!h.continueReading()) {
                break;
            }
        }
        assertThat(reads).isEqualTo(16);
        h.readComplete();
        assertThat(h.guess()).isEqualTo(65536); // ramped up to the maximum by full reads
        ch.finishAndReleaseAll();
    }

    @Test
    void anAttemptBeyondWhatTheHandleKeepsNeitherRampsUpNorReadsAgain() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setRecvByteBufAllocator(ReadSizes.RELAY);
        RecvByteBufAllocator.ExtendedHandle h = (RecvByteBufAllocator.ExtendedHandle) ReadSizes.RELAY.newHandle();
        h.reset(ch.config());
        int before = h.guess();
        int huge = 2 * 1024 * 1024; // a buffer far bigger than asked for
        h.attemptedBytesRead(huge);
        assertThat(h.attemptedBytesRead()).isEqualTo(ReadSizes.Sizer.ATTEMPT_MAX);
        h.lastBytesRead(huge);
        h.incMessagesRead(1);
        assertThat(h.lastBytesRead()).isEqualTo(huge);
        assertThat(h.continueReading()).isFalse();
        assertThat(h.guess()).as("not ramped up by the read").isEqualTo(before);
        h.attemptedBytesRead(before); // the next read loop's attempts are kept whole
        assertThat(h.attemptedBytesRead()).isEqualTo(before);
        ch.finishAndReleaseAll();
    }
}
