/**
 * Loads the main config and the catalog it points at: YAML → ajv (defaults filled) → cross-checks →
 * typed, frozen objects. Any problem anywhere fails the whole load with every problem listed, so a
 * reload can keep the last good config.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Catalog } from '../catalog/catalog.ts';
import { findBrokenChains } from '../catalog/deprecation.ts';
import { compilePrices } from '../metering/pricing/compile.ts';
import type { ModelRecord, ProviderRecord } from '../catalog/types.ts';
import { crossCheck } from './cross-check.ts';
import { ConfigError, type ConfigProblem } from './problems.ts';
import type { TollboothConfig } from './types.ts';
import { validateAgainst } from './validate.ts';
import { readYamlFile, type YamlSource } from './yaml-source.ts';

export interface LoadedConfig {
  config: TollboothConfig;
  catalog: Catalog;
  /** Every file read, for watching and for error messages. */
  files: string[];
}

export function loadConfig(configFile: string): LoadedConfig {
  const file = resolve(configFile);
  const main = readYamlFile(file);
  const problems = validateAgainst('main', main);
  if (problems.length > 0) throw new ConfigError(problems);

  const base = dirname(file);
  const raw = main.value as TollboothConfig;
  const config: TollboothConfig = {
    ...raw,
    catalog: resolve(base, raw.catalog),
    ledger: { ...raw.ledger, dir: resolve(base, raw.ledger.dir) },
    credential_store: {
      ...raw.credential_store,
      path: resolve(base, (raw.credential_store.path as string | null) ?? join(raw.ledger.dir, 'credentials.enc')),
    },
    models: raw.models.map(normalizeModel),
  };

  const catalogFiles = listCatalogFiles(config.catalog);
  const providers: ProviderRecord[] = [];
  const models: ModelRecord[] = [];
  const sourceOf = new Map<string, { source: YamlSource; pointer: string }>();
  for (const { path, kind } of catalogFiles) {
    const source = readYamlFile(path);
    const found = validateAgainst(kind, source);
    if (found.length > 0) {
      problems.push(...found);
      continue;
    }
    if (kind === 'providers') {
      const list = (source.value as { providers: ProviderRecord[] }).providers;
      list.forEach((p, i) => {
        providers.push(p);
        sourceOf.set(`provider:${p.name}`, { source, pointer: `/providers/${i}` });
      });
    } else {
      const list = (source.value as { models: ModelRecord[] }).models.map(normalizeModel);
      list.forEach((m, i) => {
        models.push(m);
        sourceOf.set(`model:${m.model_id}`, { source, pointer: `/models/${i}` });
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  // Config-declared models (self-hosted ones) join the catalog; a repeated id overrides it.
  config.models.forEach((m, i) => sourceOf.set(`model:${m.model_id}`, { source: main, pointer: `/models/${i}` }));
  const catalog = new Catalog(providers, mergeById(models, config.models));
  const at = (key: string, suffix: string, message: string): ConfigProblem => {
    const where = sourceOf.get(key);
    return where
      ? where.source.problem(where.pointer + suffix, message)
      : { file, path: '', line: null, column: null, message };
  };

  problems.push(...catalogProblems(providers, models, catalog, at));
  for (const [modelId, why] of findBrokenChains(catalog.models)) {
    problems.push(at(`model:${modelId}`, '/replacement_id', why));
  }
  problems.push(...crossCheck(config, catalog, main));
  if (problems.length > 0) throw new ConfigError(problems);

  return { config: deepFreeze(config), catalog, files: [file, ...catalogFiles.map((f) => f.path)] };
}

function listCatalogFiles(dir: string): { path: string; kind: 'providers' | 'models' }[] {
  const files: { path: string; kind: 'providers' | 'models' }[] = [{ path: join(dir, 'providers.yaml'), kind: 'providers' }];
  let entries: string[];
  try {
    entries = readdirSync(join(dir, 'models'));
  } catch {
    throw new ConfigError([
      { file: join(dir, 'models'), path: '', line: null, column: null, message: 'catalog models directory cannot be read' },
    ]);
  }
  for (const name of entries.sort()) {
    if (/\.ya?ml$/.test(name)) files.push({ path: join(dir, 'models', name), kind: 'models' });
  }
  return files;
}

/** Fills the fields whose default depends on other fields. */
function normalizeModel(m: ModelRecord): ModelRecord {
  return {
    ...m,
    upstream_model: m.upstream_model ?? m.model_id,
    operations: m.operations ?? (m.embedding ? ['embeddings'] : ['chat']),
  };
}

function mergeById(catalog: ModelRecord[], overrides: ModelRecord[]): ModelRecord[] {
  const byId = new Map(catalog.map((m) => [m.model_id, m]));
  for (const m of overrides) byId.set(m.model_id, m);
  return [...byId.values()];
}

type At = (key: string, suffix: string, message: string) => ConfigProblem;

function catalogProblems(providers: ProviderRecord[], models: ModelRecord[], catalog: Catalog, at: At): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seenProviders = new Set<string>();
  for (const p of providers) {
    if (seenProviders.has(p.name)) problems.push(at(`provider:${p.name}`, '/name', `provider '${p.name}' is declared twice`));
    seenProviders.add(p.name);
    if (p.api === 'openai' && p.openai_compat === null) {
      problems.push(at(`provider:${p.name}`, '', 'an OpenAI-compatible provider (api: openai) needs an openai_compat block'));
    }
  }
  const seenModels = new Set<string>();
  for (const m of models) {
    if (seenModels.has(m.model_id)) problems.push(at(`model:${m.model_id}`, '/model_id', `model '${m.model_id}' is declared twice`));
    seenModels.add(m.model_id);
  }
  for (const m of catalog.models.values()) {
    if (!catalog.providers.has(m.provider)) {
      problems.push(at(`model:${m.model_id}`, '/provider', `unknown provider '${m.provider}'`));
    }
    if (m.embedding && m.embedding_dimension === null) {
      problems.push(at(`model:${m.model_id}`, '/embedding_dimension', 'an embedding model needs its embedding_dimension'));
    }
    for (const problem of compilePrices(m).problems) problems.push(at(`model:${m.model_id}`, '', `prices: ${problem}`));
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
