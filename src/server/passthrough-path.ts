/**
 * Which paths native passthrough forwards: the provider's `passthrough_paths`, matched on the path
 * decoded once, below the base URL's path. Anything that could mean another path to some server on
 * the way (a dot segment in any spelling: `..`, `%2e%2e`, `.%2e`, `..%2f`, `..;`, full-width dots; a
 * backslash, raw or `%5c`; a second layer of encoding, `%25…`; an empty segment) is refused outright.
 * What goes upstream is the caller's path as sent, whose once-decoded form is exactly what matched:
 * Bedrock model ids must keep the AWS SDK's encoding (`%3A`, `%2F` of an ARN) because SigV4 signs it.
 */
import type { ProviderRecord } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import { printable } from '../util/printable.ts';

// A backslash (raw or encoded), a double encoding, or an encoded control byte.
const NEVER = /\\|%5c|%25|%[01][0-9a-f]|%7f/i;

/**
 * The path to forward for `rest` (the caller's path after `/<provider>`, still percent-encoded, its
 * escapes already checked by the listener), or a catalog error: 400 for a path that is not
 * normalised, 404 for one outside the provider's list.
 */
export function passthroughPath(provider: ProviderRecord, basePath: string, rest: string): string {
  if (NEVER.test(rest)) throw invalid(provider, rest, 'it holds a backslash, a double encoding or a control character');
  // Segment by segment on the raw path, so an encoded `/` stays inside its segment (an ARN) and is
  // still checked for dot segments as if it split the path.
  const rawSegments = rest.split('/').slice(1);
  const segments: string[] = [];
  for (const raw of rawSegments) {
    const decoded = decode(raw);
    if (decoded === null) throw invalid(provider, rest, 'it holds a malformed percent-escape');
    if (decoded === '') throw invalid(provider, rest, 'it holds an empty segment');
    if (decoded.split('/').some(isDotSegment)) throw invalid(provider, rest, 'it holds a dot segment');
    segments.push(decoded);
  }
  const decodedPath = `/${segments.join('/')}`;
  const below = basePath === '' ? decodedPath : decodedPath.startsWith(`${basePath}/`) ? decodedPath.slice(basePath.length) : null;
  const allowed =
    below !== null &&
    provider.passthrough_paths.some((p) => (p.endsWith('/*') ? below.startsWith(p.slice(0, -1)) && below.length > p.length - 1 : below === p));
  if (!allowed) {
    throw new GatewayError(
      'passthrough_path_not_allowed',
      `The path '${printable(rest, 100)}' is not forwarded to ${provider.display_name}. Allowed below ${basePath || '/'}: ${provider.passthrough_paths.join(', ')}.`,
    );
  }
  return rest;
}

/** `.` or `..`, however written once decoded: with a `;param` tail, padded, or in full-width dots. */
function isDotSegment(segment: string): boolean {
  const bare = segment.split(';')[0]!.normalize('NFKC').trim();
  return bare === '.' || bare === '..' || segment === '';
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function invalid(provider: ProviderRecord, rest: string, why: string): GatewayError {
  return new GatewayError('passthrough_path_invalid', `The path '${printable(rest, 100)}' is not forwarded to ${provider.display_name}: ${why}.`);
}
