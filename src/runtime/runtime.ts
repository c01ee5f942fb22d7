/**
 * Everything derived from one loaded config: catalog, credentials, caller keys, routes. A request
 * takes the current snapshot when it starts and keeps it to the end; a reload builds a new snapshot
 * and swaps one reference.
 */
import type { Catalog } from '../catalog/catalog.ts';
import { CallerAuth } from '../admission/caller-auth.ts';
import { CredentialStore } from '../credentials/store.ts';
import type { RoutingTable } from '../routing/plan.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TollboothConfig } from '../config/types.ts';

export interface Runtime {
  readonly config: TollboothConfig;
  readonly catalog: Catalog;
  readonly credentials: CredentialStore;
  readonly auth: CallerAuth;
  readonly routing: RoutingTable;
  readonly files: readonly string[];
  readonly loadedAt: Date;
}

/**
 * `previous` (on a reload) carries over what does not come from re-reading the config: the secrets
 * in use (rotated keys stay, rejected ones stay out) and the org credentials created over the API.
 */
export function buildRuntime(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env, previous?: CredentialStore): Runtime {
  const credentials = CredentialStore.fromConfig(loaded.config.credentials, loaded.catalog, env, previous);
  return {
    config: loaded.config,
    catalog: loaded.catalog,
    credentials,
    auth: new CallerAuth(loaded.config),
    routing: { catalog: loaded.catalog, credentials, routes: loaded.config.routes },
    files: loaded.files,
    loadedAt: new Date(),
  };
}

/** The same runtime with other credentials (a rotation, an org credential added or removed). */
export function withCredentials(runtime: Runtime, credentials: CredentialStore): Runtime {
  return { ...runtime, credentials, routing: { ...runtime.routing, credentials } };
}

/** Holds the current runtime; `swap` is the only way it changes. */
export class RuntimeHolder {
  #current: Runtime;

  constructor(initial: Runtime) {
    this.#current = initial;
  }

  get current(): Runtime {
    return this.#current;
  }

  swap(next: Runtime): Runtime {
    const previous = this.#current;
    this.#current = next;
    return previous;
  }
}
