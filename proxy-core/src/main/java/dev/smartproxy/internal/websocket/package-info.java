/**
 * The WebSocket relay of terminated connections: frame codecs on both legs, the per-leg
 * heartbeat, close propagation and protocol errors. Internal: may change at any time and never
 * appears in a public signature; the module does not export it.
 */
package dev.smartproxy.internal.websocket;
