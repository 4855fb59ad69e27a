/**
 * Implementation. Everything under {@code dev.smartproxy.internal} may change at any time and
 * never appears in a public signature; the module does not export it.
 */
package dev.smartproxy.internal;
