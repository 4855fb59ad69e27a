/**
 * The HTTP/1.1 reverse proxy for terminated connections: routing per request, header
 * rewriting, streaming with backpressure, and the hand-off of upgraded (WebSocket) connections.
 * Internal: may change at any time and never appears in a public signature.
 */
package dev.smartproxy.internal.http;
