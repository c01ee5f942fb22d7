/**
 * Puts the provider credential on an outbound request, by the provider's auth schema. Kept apart
 * from the adapters, which only translate. Each credential snapshot gets its injector built once
 * (the API-key header and value; for SigV4 the parsed AWS string and, on first use, the signer) and
 * kept beside it: a rotation makes a new snapshot, so requests already under way finish with the old
 * key and new ones take the new one at once. SigV4 needs the final URL and body, so this runs last.
 * A workload identity credential (identity/) keeps one identity across snapshots, whose current
 * keys or token are taken per request.
 */
import type { ProviderRecord } from '../catalog/types.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';
import { stripConsumedHeaders } from './outbound-headers.ts';
import type { Credential } from './store.ts';

export interface BackendAuth {
  apply(req: OutboundRequest): Promise<void> | void;
}

const NONE: BackendAuth = { apply() {} };

/** Built injectors, by credential snapshot (frozen, replaced whole on rotation) and provider. */
const built = new WeakMap<Credential, { provider: string; auth: BackendAuth }>();

/** The injector of the target's credential, built on its first use and kept with the snapshot. */
export function backendAuthFor(target: Target): BackendAuth {
  const cached = built.get(target.credential);
  if (cached?.provider === target.provider.name) return cached.auth;
  const auth = buildBackendAuth(target.credential, target.provider);
  built.set(target.credential, { provider: target.provider.name, auth });
  return auth;
}

function buildBackendAuth(credential: Credential, provider: ProviderRecord): BackendAuth {
  if (credential.identity) return identityAuth(credential, provider);
  const secret = credential.secret;
  if (secret === null) return NONE;
  const schema = provider.auth_schemas.find((s) => s.type !== 'none');
  if (schema?.type === 'api_key') {
    const header = schema.header;
    const value = (schema.prefix ?? '') + secret.reveal();
    return {
      apply(req) {
        req.headers[header] = value;
      },
    };
  }
  if (schema?.type === 'aws_sigv4') {
    const service = schema.service;
    // The signing code (and @smithy) loads with the first Bedrock credential used, not at start-up.
    const signer = import('./aws/sigv4.ts').then(({ sigV4Signer }) => sigV4Signer(credential, service));
    return { apply: async (req) => (await signer).sign(req) };
  }
  return NONE;
}

/**
 * A workload identity credential: SigV4 with the identity's current AWS keys, or its current Entra
 * token as `Authorization: Bearer` (Azure OpenAI accepts it in place of `api-key`). The keys are
 * asked for on every request; the identity caches them and renews them before they expire.
 */
function identityAuth(credential: Credential, provider: ProviderRecord): BackendAuth {
  const identity = credential.identity!;
  if (identity.kind === 'aws_workload_identity') {
    const schema = provider.auth_schemas.find((s) => s.type === 'aws_sigv4');
    const service = schema?.type === 'aws_sigv4' ? schema.service : 'bedrock';
    const signer = import('./aws/sigv4.ts').then(({ sigV4Signer }) => sigV4Signer(credential, service));
    return { apply: async (req) => (await signer).sign(req) };
  }
  return {
    async apply(req) {
      const token = await identity.token();
      for (const name of Object.keys(req.headers)) {
        const lower = name.toLowerCase();
        if (lower === 'authorization' || lower === 'api-key') delete req.headers[name];
      }
      req.headers.authorization = `Bearer ${token}`;
    },
  };
}

/**
 * The last step before a request leaves, on every path: the headers Tollbooth consumes are removed
 * (outbound-headers.ts), then the provider's credential is put on.
 */
export async function applyCredential(target: Target, req: OutboundRequest): Promise<void> {
  stripConsumedHeaders(req.headers);
  await backendAuthFor(target).apply(req);
}
