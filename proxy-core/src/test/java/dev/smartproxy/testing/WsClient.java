package dev.smartproxy.testing;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The JDK's WebSocket client, trusting the test CA: queues the text it receives and records how
 * the connection ended ({@code "close <status> <reason>"} or {@code "error <exception>"}). Note
 * that the JDK's client always answers pings itself.
 */
public final class WsClient implements WebSocket.Listener {
    /** Text messages received, in order. */
    public final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    /** Completes when the connection ends. */
    public final CompletableFuture<String> ended = new CompletableFuture<>();
    private WebSocket ws;

    /** Opens a WebSocket to {@code uri} (ws or wss) over HTTP/1.1. */
    public static WsClient connect(URI uri) throws Exception {
        WsClient c = new WsClient();
        HttpClient http = HttpClient.newBuilder().sslContext(TestPki.shared().clientContext())
                .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        c.ws = http.newWebSocketBuilder().buildAsync(uri, c).get(10, TimeUnit.SECONDS);
        return c;
    }

    /** Sends {@code text} and returns the next message received (null after 5 s). */
    public String echo(String text) throws Exception {
        ws.sendText(text, true).get(5, TimeUnit.SECONDS);
        return messages.poll(5, TimeUnit.SECONDS);
    }

    /** Sends a Close frame with {@code status}. */
    public void close(int status, String reason) throws Exception {
        ws.sendClose(status, reason).get(5, TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        messages.add(data.toString());
        webSocket.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        ended.complete("close " + statusCode + " " + reason);
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        ended.complete("error " + error);
    }
}
