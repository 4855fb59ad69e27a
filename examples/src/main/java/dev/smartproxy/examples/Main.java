package dev.smartproxy.examples;

import java.util.Arrays;

/**
 * Entry point of the examples jar.
 *
 * <pre>
 * java -jar smartproxy-examples.jar demo
 * java -jar smartproxy-examples.jar passthrough --listen 127.0.0.1:8443 --backend 127.0.0.1:443 [--sni '*']
 * java -jar smartproxy-examples.jar terminate --listen 127.0.0.1:8443 --backend 127.0.0.1:8080 --cert c.pem --key k.pem
 * java -jar smartproxy-examples.jar metrics [--port 9464]
 * java -jar smartproxy-examples.jar ws-echo --listen 127.0.0.1:9000            (benchmark backend)
 * java -jar smartproxy-examples.jar ws-load --url wss://127.0.0.1:8443/ ...    (benchmark load; see WsBench)
 * </pre>
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        String command = args.length == 0 ? "demo" : args[0];
        String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (command) {
            case "demo" -> Demo.main(rest);
            case "passthrough" -> PassthroughMain.run(rest, false);
            case "terminate" -> PassthroughMain.run(rest, true);
            case "ws-echo" -> WsBench.echo(rest);
            case "ws-load" -> WsBench.load(rest);
            case "metrics" -> PrometheusExample.main(rest);
            default -> {
                System.err.println("unknown command '" + command + "' (expected: demo, passthrough, terminate, metrics, ws-echo or ws-load)");
                System.exit(2);
            }
        }
    }
}
