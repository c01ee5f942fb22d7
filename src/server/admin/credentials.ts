/**
 * The credential API on the ops listener (the router checks the admin key, its role owner/admin and
 * X-Organization-ID): an org's own provider keys, created, tested, listed, rotated and deleted.
 * Responses show a fingerprint, never a secret.
 */
import type { Runtime } from '../../runtime/runtime.ts';
import { parseCredentialInput } from '../../credentials/auth-data.ts';
import { GatewayError } from '../../errors/catalog.ts';
import type { OrgCredentials } from '../../credentials/org-credentials.ts';
import type { Verification } from '../../credentials/verify.ts';
import type { AdminRouter } from './router.ts';

export function registerCredentialRoutes(admin: AdminRouter, credentials: OrgCredentials): void {
  admin.add('POST', '/credentials', async ({ caller, runtime, body }) => {
    requireStoreKey(runtime);
    const input = parseCredentialInput(await body(), runtime.catalog, { nameRequired: true });
    return { status: 201, body: await credentials.create(caller.orgId, input) };
  });

  admin.add('POST', '/credentials/test-temporary', async ({ caller, runtime, body }) => {
    const input = parseCredentialInput(await body(), runtime.catalog, { nameRequired: false });
    return { body: { provider_name: input.provider.name, ...verdict(await credentials.test(caller.orgId, input)) } };
  });

  admin.add('GET', '/credentials', async ({ caller, query }) => {
    const provider = query.get('provider_name');
    const list = credentials.list(caller.orgId).filter((c) => provider === null || c.provider_name === provider);
    return { body: { credentials: list } };
  });

  admin.add('GET', '/credentials/{id}', async ({ caller, params }) => ({ body: credentials.get(caller.orgId, params.id!) }));

  admin.add('DELETE', '/credentials/{id}', async ({ caller, params }) => {
    await credentials.remove(caller.orgId, params.id!);
    return { body: { id: params.id, deleted: true } };
  });

  admin.add('POST', '/credentials/{id}/rotate', async ({ caller, runtime, params, body }) => {
    requireStoreKey(runtime);
    const { credential, verification } = await credentials.rotate(caller.orgId, params.id!, (await body()).auth_data);
    return { body: { ...credential, verification: verdict(verification) } };
  });
}

/** A verification as the API reports it: `is_valid` plus the result and, when not valid, why. */
function verdict(v: Verification): { is_valid: boolean; result: Verification['result']; detail: string | null } {
  return { is_valid: v.result === 'valid', result: v.result, detail: v.result === 'valid' ? null : v.reason };
}

/**
 * Storing needs the store's encryption key. Without one configured, the request cannot succeed until
 * the operator sets it: a 400 naming the setting, before anything is read or verified (a missing
 * setting is not a server fault; a key that is set but unreadable stays the store's 500).
 */
function requireStoreKey(runtime: Runtime): void {
  if (runtime.config.credential_store.key !== null) return;
  throw new GatewayError(
    'invalid_request',
    'Credentials cannot be stored: no encryption key is configured. Set credential_store.key in the config to a Secret ' +
      'holding 32 random bytes, base64 (openssl rand -base64 32), and restart. Nothing was stored.',
  );
}
