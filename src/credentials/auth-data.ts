/**
 * What an admin sends to create, test or rotate a credential, checked once at the edge: the
 * provider, the secret (`auth_data.api_key`; for Bedrock the IAM string form
 * `access_key::secret::region[::session_token]`, which makes the credential `aws_iam`), and an
 * optional base URL. Base URLs come only from the config or from here, never from a caller, and are
 * checked so a credential cannot aim the sidecar at plain http, embedded credentials or a cloud
 * metadata endpoint.
 */
import { isIP } from 'node:net';
import { classifyAddress } from './verification-target.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ProviderRecord } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import { AWS_CREDENTIAL_FORMAT, parseAwsCredential } from './aws/credential-string.ts';
import { Secret } from './secret.ts';

export type AuthType = 'api_key' | 'aws_iam';

export interface SecretInput {
  authType: AuthType;
  secret: Secret;
  /** From the IAM string, when it names one. */
  region: string | null;
}

export interface CredentialInput extends SecretInput {
  provider: ProviderRecord;
  name: string;
  baseUrl: string | null;
  apiVersion: string | null;
  isDefault: boolean;
}

const MAX_SECRET_CHARS = 8192;
/** Printable ASCII without spaces: the secret travels in an HTTP header. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** The body of POST /credentials (and, with `nameRequired: false`, of test-temporary). */
export function parseCredentialInput(body: Record<string, unknown>, catalog: Catalog, options: { nameRequired: boolean }): CredentialInput {
  const provider = providerOf(body, catalog);
  const name = body.name ?? (options.nameRequired ? undefined : provider.name);
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) {
    throw invalid("'name' must be a non-empty string of at most 200 characters.");
  }
  const secretInput = parseAuthData(body.auth_data, provider, optionalString(body, 'region'));
  const isDefault = body.is_default ?? false;
  if (typeof isDefault !== 'boolean') throw invalid("'is_default' must be true or false.");
  return {
    provider,
    name: name.trim(),
    ...secretInput,
    baseUrl: checkBaseUrl(body.base_url, provider),
    apiVersion: optionalString(body, 'api_version'),
    isDefault,
  };
}

/** `auth_data` → the secret and its auth type, for `provider`. */
export function parseAuthData(authData: unknown, provider: ProviderRecord, region: string | null = null): SecretInput {
  if (typeof authData !== 'object' || authData === null || Array.isArray(authData)) {
    throw invalid("'auth_data' must be an object such as {\"api_key\": \"…\"}.");
  }
  const value = (authData as Record<string, unknown>).api_key;
  if (typeof value !== 'string' || value.trim().length === 0) throw invalid("'auth_data.api_key' must be a non-empty string.");
  const key = value.trim();
  if (key.length > MAX_SECRET_CHARS || !HEADER_SAFE.test(key)) {
    throw invalid("'auth_data.api_key' must be printable ASCII without spaces, at most 8192 characters.");
  }
  if (!provider.auth_schemas.some((s) => s.type === 'aws_sigv4')) {
    if (!provider.auth_schemas.some((s) => s.type === 'api_key')) throw invalid(`Provider '${provider.name}' takes no API key.`);
    return { authType: 'api_key', secret: new Secret(key), region: null };
  }
  const aws = parseAwsCredential(key);
  if ('invalid' in aws) throw invalid(`'auth_data.api_key' for ${provider.display_name}: ${aws.invalid}.`);
  const effective = aws.region ?? region;
  if (effective === null) throw invalid(`'auth_data.api_key' for ${provider.display_name} names no region: use ${AWS_CREDENTIAL_FORMAT} or set 'region'.`);
  return { authType: 'aws_iam', secret: new Secret(key), region: effective };
}

/**
 * An admin-supplied base URL: https (plain http only for self-hosted OpenAI-compatible servers), no
 * user:password, no query or fragment, not a cloud metadata address. Required when the provider
 * has no public endpoint (Azure, self-hosted).
 */
export function checkBaseUrl(value: unknown, provider: ProviderRecord): string | null {
  if (value === undefined || value === null) {
    if (provider.base_url === null) throw invalid(`Provider '${provider.name}' has no public endpoint: 'base_url' is required.`);
    return null;
  }
  if (typeof value !== 'string') throw invalid("'base_url' must be a string.");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid("'base_url' is not a valid absolute URL.");
  }
  const selfHosted = provider.auth_schemas.some((s) => s.type === 'none');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && selfHosted)) {
    throw invalid(`'base_url' must use https${selfHosted ? ' or http' : ''} for provider '${provider.name}'.`);
  }
  if (url.username !== '' || url.password !== '') throw invalid("'base_url' must not carry credentials (user:password@); send the key in auth_data.");
  if (url.search !== '' || url.hash !== '') throw invalid("'base_url' must not have a query string or fragment.");
  if (isMetadataHost(url.hostname)) throw invalid("'base_url' must not point at a link-local or cloud metadata address.");
  return url.href.replace(/\/+$/, '');
}

/** Link-local and cloud metadata addresses in every spelling (the URL parser has already normalised IPv4 forms). */
function isMetadataHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'metadata.google.internal' || host === 'metadata') return true;
  const literal = host.replace(/^\[|\]$/g, '');
  return isIP(literal) !== 0 && classifyAddress(literal) === 'metadata';
}

function providerOf(body: Record<string, unknown>, catalog: Catalog): ProviderRecord {
  const name = body.provider_name ?? body.integration_name;
  if (typeof name !== 'string' || name.length === 0) throw invalid("'provider_name' (or 'integration_name') must name a provider, e.g. \"openai\".");
  const provider = catalog.provider(name);
  if (!provider) throw invalid(`Unknown provider '${name}' (known: ${[...catalog.providers.keys()].join(', ')}).`);
  return provider;
}

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) throw invalid(`'${field}' must be a non-empty string.`);
  return value;
}

function invalid(message: string): GatewayError {
  return new GatewayError('invalid_request', message);
}
