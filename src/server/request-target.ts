/**
 * The request target, checked once at the listener before any route sees it: origin-form only
 * (`/path?query`), every percent-escape well formed and decoding to UTF-8, no control bytes. After
 * this, decoding any part of the path or query cannot throw.
 */
import { GatewayError } from '../errors/catalog.ts';
import { printable } from '../util/printable.ts';

export interface RequestTarget {
  path: string;
  query: string;
}

// `%` not followed by two hex digits, or a byte Node's parser lets through that no URL may carry.
const MALFORMED = /%(?![0-9a-fA-F]{2})|[\x00-\x20\x7f]/;

export function parseRequestTarget(url: string | undefined): RequestTarget {
  const target = url ?? '/';
  if (!target.startsWith('/')) throw malformed(target, 'it must be a path starting with /');
  if (MALFORMED.test(target)) throw malformed(target, 'it holds a malformed percent-escape or a control character');
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  // Well-formed escapes can still spell bytes that are not UTF-8 (`%ff`): decodeURIComponent refuses them.
  if (path.includes('%') && !decodes(path)) throw malformed(target, 'its percent-escapes do not decode to UTF-8');
  if (query.includes('%') && !decodes(query.replaceAll('+', ' '))) throw malformed(target, 'its percent-escapes do not decode to UTF-8');
  return { path, query };
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function malformed(target: string, why: string): GatewayError {
  return new GatewayError('invalid_request_target', `The request target '${printable(target, 100)}' is not valid: ${why}.`);
}
