package dev.smartproxy.loopback;

import dev.smartproxy.config.IoTransport;

/** The plain relay tests on the JDK's NIO transport (the default is native epoll where available). */
class PlainRelayNioTest extends PlainRelayTest {
    @Override
    protected IoTransport transport() {
        return IoTransport.NIO;
    }
}
