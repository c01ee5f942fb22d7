/** Checks that need more than one place of the config: references between keys, orgs, credentials, routes. */
import type { Catalog } from '../catalog/catalog.ts';
import { identityMismatch } from '../credentials/identity/workload-identity.ts';
import type { ConfigProblem } from './problems.ts';
import { parseCredits } from '../metering/credits.ts';
import type { CreditAmount, TollboothConfig } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

export function crossCheck(config: TollboothConfig, catalog: Catalog, source: YamlSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (pointer: string, message: string) => problems.push(source.problem(pointer, message));

  const orgIds = new Set(config.orgs.map((o) => o.id));
  duplicates(config.orgs.map((o) => o.id)).forEach((i) => add(`/orgs/${i}/id`, 'org id is declared twice'));
  duplicates(config.keys.map((k) => k.id)).forEach((i) => add(`/keys/${i}/id`, 'key id is declared twice'));
  duplicates(config.keys.map((k) => k.hash)).forEach((i) => add(`/keys/${i}/hash`, 'the same key hash is listed twice'));
  config.keys.forEach((k, i) => {
    if (!orgIds.has(k.org)) add(`/keys/${i}/org`, `org '${k.org}' is not declared under orgs`);
  });
  checkPlans(config, catalog, add);
  if (config.auth.mode === 'none') {
    if (config.auth.default_org === null) add('/auth/default_org', 'auth mode "none" needs a default_org');
    else if (!orgIds.has(config.auth.default_org)) add('/auth/default_org', `org '${config.auth.default_org}' is not declared under orgs`);
  }

  duplicates(config.credentials.map((c) => c.id)).forEach((i) => add(`/credentials/${i}/id`, 'credential id is declared twice'));
  const defaults = new Map<string, number>();
  config.credentials.forEach((c, i) => {
    const provider = catalog.provider(c.provider);
    if (!provider) {
      add(`/credentials/${i}/provider`, `unknown provider '${c.provider}' (known: ${[...catalog.providers.keys()].join(', ')})`);
      return;
    }
    const keyless = provider.auth_schemas.some((s) => s.type === 'none');
    const mismatch = c.identity === null ? null : identityMismatch(c.identity, provider);
    if (mismatch !== null) add(`/credentials/${i}/identity`, mismatch);
    if (c.secret === null && c.identity === null && !keyless) add(`/credentials/${i}`, `provider '${c.provider}' needs a secret: {env: NAME} or {file: /path}, or an identity`);
    if (c.base_url === null && provider.base_url === null) {
      add(`/credentials/${i}/base_url`, `provider '${c.provider}' has no public endpoint: the credential must set base_url`);
    }
    if (c.default) {
      if (defaults.has(c.provider)) add(`/credentials/${i}/default`, `provider '${c.provider}' already has a default credential`);
      defaults.set(c.provider, i);
    }
  });

  const credentials = new Map(config.credentials.map((c) => [c.id, c]));
  for (const [modelId, route] of Object.entries(config.routes)) {
    const base = `/routes/${escapePointer(modelId)}`;
    if (!catalog.models.has(modelId)) add(base, `route for unknown model '${modelId}'`);
    const model = catalog.models.get(modelId);
    route.deployments.forEach((d, i) => {
      if (!catalog.provider(d.provider)) add(`${base}/deployments/${i}/provider`, `unknown provider '${d.provider}'`);
      if (model && d.provider !== model.provider && d.upstream_model === null) {
        add(`${base}/deployments/${i}`, `a deployment on '${d.provider}' (not the model's own provider) must name its upstream_model`);
      }
      if (d.credential !== null) {
        const c = credentials.get(d.credential);
        if (!c) add(`${base}/deployments/${i}/credential`, `unknown credential '${d.credential}'`);
        else if (c.provider !== d.provider) {
          add(`${base}/deployments/${i}/credential`, `credential '${d.credential}' belongs to provider '${c.provider}', not '${d.provider}'`);
        }
      }
    });
  }
  return problems;
}

/** Plans name catalog models and providers; orgs name plans; every credit amount is exact. */
function checkPlans(config: TollboothConfig, catalog: Catalog, add: (pointer: string, message: string) => void): void {
  for (const [name, plan] of Object.entries(config.plans)) {
    const base = `/plans/${escapePointer(name)}`;
    if (plan.allowance && creditsProblem(plan.allowance.credits)) add(`${base}/allowance/credits`, creditsProblem(plan.allowance.credits)!);
    plan.models?.forEach((m, i) => {
      if (!catalog.models.has(m)) add(`${base}/models/${i}`, `unknown model '${m}'`);
    });
    plan.providers?.forEach((p, i) => {
      if (!catalog.provider(p)) add(`${base}/providers/${i}`, `unknown provider '${p}'`);
    });
  }
  config.orgs.forEach((o, i) => {
    if (o.plan !== null && !Object.hasOwn(config.plans, o.plan)) add(`/orgs/${i}/plan`, `plan '${o.plan}' is not declared under plans`);
    duplicates(o.wallet.grants.map((g) => g.id)).forEach((j) => add(`/orgs/${i}/wallet/grants/${j}/id`, 'grant id is declared twice for this org'));
    o.wallet.grants.forEach((g, j) => {
      const problem = creditsProblem(g.credits);
      if (problem) add(`/orgs/${i}/wallet/grants/${j}/credits`, problem);
    });
  });
}

function creditsProblem(amount: CreditAmount): string | null {
  try {
    return parseCredits(String(amount)) >= 0n ? null : 'must not be negative';
  } catch {
    return 'must be an exact credit amount: a decimal string such as "1000" or "12.5" (at most 12 decimals)';
  }
}

function duplicates(values: string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  values.forEach((v, i) => {
    if (seen.has(v)) out.push(i);
    seen.add(v);
  });
  return out;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
