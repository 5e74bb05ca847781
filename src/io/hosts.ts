// The Host header values a local server answers to: a browser page can make any name resolve to
// 127.0.0.1 (DNS rebinding), so graft's servers answer only to the names they were reached by
// (graft studio and graft serve share this).
import { hostname, networkInterfaces } from 'node:os';
import { usageError } from '../core/errors.js';

export const isLoopback = (host: string): boolean => host === '127.0.0.1' || host === 'localhost' || host === '::1';
const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** An address as a URL or a Host header writes it: IPv6 in brackets. */
export const bracketed = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * The Host header values (lower case) a server bound to `host`:`port` answers: bound to loopback,
 * 127.0.0.1, localhost and [::1]; bound to 0.0.0.0 or ::, those and this machine's name and
 * addresses; bound to an address, that address; each with the port, plus `extra`: a `name:port`
 * as given, a `name` both bare (a proxy on the scheme's own port) and with the server's port.
 */
export function allowedHostValues(host: string, port: number, extra: readonly string[] = []): Set<string> {
  const names = isLoopback(host)
    ? ['127.0.0.1', 'localhost', '::1']
    : isWildcard(host)
      ? [
          '127.0.0.1',
          'localhost',
          '::1',
          hostname(),
          ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, ''))),
        ]
      : [host];
  const values = names.map((n) => `${bracketed(n)}:${port}`);
  // A client leaves the port out when it is the scheme's own.
  if (port === 80) values.push(...names.map(bracketed));
  const more = extra.flatMap((v) => (/:\d+$/.test(v) ? [v] : [v, `${v}:${port}`]));
  return new Set([...values, ...more].map((v) => v.toLowerCase()));
}

/** A Host header's name: a DNS name or IPv4 address, or an IPv6 address in brackets; then maybe `:port`. */
const HOST_VALUE = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * `a,b:8080,[::1]` (what `--allowed-hosts` takes) as a list of Host header values; anything else
 * (a URL, a path, a space, an empty name) is a usage error naming it.
 */
export function parseHostList(list: string): string[] {
  const values = list.split(',').map((v) => v.trim());
  for (const v of values)
    if (!HOST_VALUE.test(v) || Number(v.match(/:(\d+)$/)?.[1] ?? 0) > 65535)
      throw usageError(`--allowed-hosts: ${JSON.stringify(v)} is not a host name (NAME or NAME:PORT, comma-separated)`);
  return values;
}
