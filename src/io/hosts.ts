// The Host header values a local server answers to: a browser page can make any name resolve to
// 127.0.0.1 (DNS rebinding), so graft's servers answer only to the names they were reached by
// (graft studio and graft serve share this).
import { hostname, networkInterfaces } from 'node:os';

export const isLoopback = (host: string): boolean => host === '127.0.0.1' || host === 'localhost' || host === '::1';
const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** An address as a URL or a Host header writes it: IPv6 in brackets. */
export const bracketed = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * The Host header values (lower case) a server bound to `host`:`port` answers: bound to loopback,
 * 127.0.0.1, localhost and [::1]; bound to 0.0.0.0 or ::, those and this machine's name and
 * addresses; bound to an address, that address; each with the port, plus `extra` as given.
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
  return new Set([...values, ...extra].map((v) => v.toLowerCase()));
}
