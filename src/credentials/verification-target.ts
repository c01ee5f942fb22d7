/**
 * Where a key verification for an org's credential may connect. An org admin chooses the base URL
 * of the credentials it creates, so the validation call is a request the caller aims: it may go only
 * to the provider's catalog base URL or to a base URL the operator's config names (its credentials'
 * `base_url`, `credential_store.allowed_base_urls`). The host is resolved once, every address is
 * checked (link-local and cloud metadata never; loopback and private ranges only for a base URL the
 * operator named exactly), and the connection goes to the checked address, so a DNS answer that
 * changes between check and connect (rebinding) cannot move it. IP literals in any spelling (decimal,
 * octal, hex IPv4; IPv4-mapped, NAT64 and 6to4 IPv6) are compared by the address they mean.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import type { ProviderRecord } from '../catalog/types.ts';
import type { TollboothConfig } from '../config/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { OutboundRequest, UpstreamResponse } from '../upstream/transport.ts';
import { printable } from '../util/printable.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface VerificationPolicy {
  /** Base URLs the operator's config names: exact, `{region}` templates, or `https://*.domain`. */
  operatorBaseUrls: readonly string[];
  /** Name resolution (tests replace it); the system resolver by default. */
  lookup?: (hostname: string) => Promise<ResolvedAddress[]>;
}

/** The policy for org credentials under `config`: the operator's credentials' base URLs and the allow-list. */
export function verificationPolicy(config: Pick<TollboothConfig, 'credentials' | 'credential_store'>): VerificationPolicy {
  return {
    operatorBaseUrls: [...config.credentials.flatMap((c) => (c.base_url ? [c.base_url] : [])), ...(config.credential_store.allowed_base_urls ?? [])],
  };
}

export type AddressClass = 'metadata' | 'loopback' | 'private' | 'public';

const METADATA = new BlockList();
METADATA.addSubnet('169.254.0.0', 16, 'ipv4');
METADATA.addSubnet('fe80::', 10, 'ipv6');
METADATA.addAddress('fd00:ec2::254', 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** What an IP address is, looking through IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4). */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/^\[|\]$/g, '');
  if (isIPv6(bare)) {
    const embedded = embeddedIPv4(bare);
    if (embedded !== null) {
      const inner = classifyAddress(embedded);
      // 6to4/NAT64 of a public address is as public as any; anything else keeps the stricter class.
      return inner;
    }
    if (METADATA.check(bare, 'ipv6')) return 'metadata';
    if (LOOPBACK.check(bare, 'ipv6')) return 'loopback';
    if (PRIVATE.check(bare, 'ipv6')) return 'private';
    return 'public';
  }
  if (!isIPv4(bare)) return 'private';
  if (METADATA.check(bare, 'ipv4')) return 'metadata';
  if (LOOPBACK.check(bare, 'ipv4')) return 'loopback';
  if (PRIVATE.check(bare, 'ipv4') || bare === '255.255.255.255') return 'private';
  return 'public';
}

/** The IPv4 address inside an IPv4-mapped/-compatible (::ffff:0:0/96, ::/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address. */
function embeddedIPv4(v6: string): string | null {
  const h = hextets(v6);
  if (h === null) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zeros = (from: number, to: number) => h.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && h[5] === 0xffff) return v4(h[6]!, h[7]!);
  if (zeros(0, 6) && (h[6] !== 0 || h[7]! > 1)) return v4(h[6]!, h[7]!);
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return v4(h[6]!, h[7]!);
  if (h[0] === 0x2002) return v4(h[1]!, h[2]!);
  return null;
}

function hextets(v6: string): number[] | null {
  let text = v6.toLowerCase();
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  if (fill < 0) return null;
  const parts = [...left, ...Array<string>(fill).fill('0'), ...right].map((p) => Number.parseInt(p, 16));
  return parts.length === 8 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 0xffff) ? parts : null;
}

/**
 * Whether `baseUrl` may be the target of an org credential's verification, and whether loopback and
 * private addresses are acceptable for it (only for a base URL the operator named exactly).
 */
export function targetAllowance(provider: ProviderRecord, baseUrl: string, policy: VerificationPolicy): { allowPrivate: boolean } | null {
  const base = trimSlash(baseUrl);
  for (const entry of policy.operatorBaseUrls) {
    if (matches(entry, base)) return { allowPrivate: !entry.includes('*') };
  }
  // The catalog's base URL, and the origin of an absolute validation call (Bedrock's control plane).
  const check = provider.validation?.path ?? '';
  const slash = check.indexOf('/', 'https://'.length);
  const catalog = [provider.base_url, check.startsWith('https://') ? (slash === -1 ? check : check.slice(0, slash)) : null];
  for (const entry of catalog) {
    if (entry && matches(entry, base)) return { allowPrivate: false };
  }
  return null;
}

/** `entry` (a base URL, with `{region}` and a leading `*.` host label as wildcards) against `base`. */
function matches(entry: string, base: string): boolean {
  const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
  const trimmed = trimSlash(entry);
  const wild = /^(https?:\/\/)\*\./i.exec(trimmed);
  const pattern = (wild ? `${escape(wild[1]!)}(?:[a-z0-9-]+\\.)+${escape(trimmed.slice(wild[0].length))}` : escape(trimmed)).replaceAll('\\{region\\}', '[a-z0-9-]+');
  return new RegExp(`^${pattern}$`, 'i').test(base);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * Resolves the request's host once and checks every address it has: the address to connect to, or
 * `verification_target_refused`.
 */
export async function checkedAddress(url: string, allowPrivate: boolean, policy: VerificationPolicy): Promise<ResolvedAddress> {
  const { hostname } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses: ResolvedAddress[];
  if (isIPv4(host)) addresses = [{ address: host, family: 4 }];
  else if (isIPv6(host)) addresses = [{ address: host, family: 6 }];
  else {
    try {
      addresses = policy.lookup ? await policy.lookup(host) : ((await dnsLookup(host, { all: true, verbatim: true })) as ResolvedAddress[]);
    } catch {
      throw new GatewayError('credential_unverified', `The verification host '${printable(host, 100)}' could not be resolved. Nothing was changed; try again.`);
    }
  }
  if (addresses.length === 0) throw new GatewayError('credential_unverified', `The verification host '${printable(host, 100)}' has no address.`);
  for (const { address } of addresses) {
    const kind = classifyAddress(address);
    if (kind === 'metadata' || (kind !== 'public' && !allowPrivate)) {
      throw refused(`'${printable(host, 100)}' resolves to a ${kind === 'metadata' ? 'link-local or cloud metadata' : kind} address`);
    }
  }
  return addresses[0]!;
}

export function refused(why: string): GatewayError {
  return new GatewayError('verification_target_refused', `Key verification refused: ${why}. Allowed: the provider's catalog base URL or a base URL the operator's config names.`);
}

/**
 * Sends `req` to `pinned` whatever the name resolves to now: a one-off undici Agent whose connector
 * looks the name up as `pinned` (TLS still checks the certificate against the name). No redirects.
 */
export async function sendPinned(req: OutboundRequest, pinned: ResolvedAddress, signal: AbortSignal, timeoutMs: number): Promise<UpstreamResponse> {
  const lookup = (_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
  const agent = new Agent({ connections: 1, pipelining: 0, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs, lookup } as never });
  const close = () => void agent.destroy().catch(() => undefined);
  let data: Dispatcher.ResponseData;
  try {
    data = await agent.request({
      origin: new URL(req.url).origin,
      path: req.url.slice(new URL(req.url).origin.length) || '/',
      method: req.method,
      headers: req.headers,
      body: req.body as Dispatcher.DispatchOptions['body'],
      signal,
    });
  } catch (err) {
    close();
    throw new GatewayError('upstream_unreachable', `The verification endpoint could not be reached (${(err as { code?: string }).code ?? 'error'}).`, { cause: err });
  }
  const body = data.body;
  return {
    statusCode: data.statusCode,
    headers: data.headers,
    body: {
      async bytes(limit = Number.POSITIVE_INFINITY) {
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of body) {
            chunks.push(chunk as Buffer);
            size += (chunk as Buffer).length;
            if (size >= limit) break;
          }
        } finally {
          body.destroy();
          close();
        }
        return Buffer.concat(chunks, size);
      },
      async forEachChunk(onChunk) {
        try {
          for await (const chunk of body) if ((await onChunk(chunk as Buffer)) === false) return 'stopped';
          return 'end';
        } finally {
          body.destroy();
          close();
        }
      },
      destroy() {
        body.destroy();
        close();
      },
    },
  };
}
