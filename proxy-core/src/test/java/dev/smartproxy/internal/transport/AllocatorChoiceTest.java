package dev.smartproxy.internal.transport;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The proxy's channels use the pooled allocator unless the operator named one with -Dio.netty.allocator.type. */
class AllocatorChoiceTest {
    @Test
    void pooledUnlessTheOperatorChose() {
        assertThat(Transport.chooseAllocator(null)).isSameAs(PooledByteBufAllocator.DEFAULT);
        assertThat(Transport.chooseAllocator(" ")).isSameAs(PooledByteBufAllocator.DEFAULT);
        assertThat(Transport.chooseAllocator("adaptive")).isSameAs(ByteBufAllocator.DEFAULT);
        assertThat(Transport.chooseAllocator("unpooled")).isSameAs(ByteBufAllocator.DEFAULT);
    }
}
