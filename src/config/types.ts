/** The main config file, after validation. Field names match the YAML. */
import type { ModelRecord } from '../catalog/types.ts';

/** A secret is only ever named, never written in the YAML. */
export type SecretRef = { env: string } | { file: string };

export interface ListenerConfig {
  host: string;
  port: number;
}

export type Role = 'owner' | 'admin' | 'member';

export interface CallerKeyConfig {
  id: string;
  org: string;
  role: Role;
  /** `sha256:<64 hex>` of the key; the key itself is never stored. */
  hash: string;
}

export interface OrgConfig {
  id: string;
  name: string;
}

export interface CredentialConfig {
  id: string;
  provider: string;
  /** managed: operator-provisioned, metered in credits; byok: the customer's own key, 0 credits. */
  billing: 'managed' | 'byok';
  /** Absent only for providers whose auth schema is `none` (e.g. a keyless vLLM). */
  secret: SecretRef | null;
  /** Overrides the provider's base URL (Azure resource, vLLM server, regional endpoint). */
  base_url: string | null;
  region: string | null;
  api_version: string | null;
  /** The credential used for the provider when a deployment names none. */
  default: boolean;
}

export interface DeploymentConfig {
  provider: string;
  credential: string | null;
  upstream_model: string | null;
  weight: number;
}

export interface RouteConfig {
  strategy: 'priority' | 'weighted' | 'least-latency';
  deployments: DeploymentConfig[];
}

export interface UpstreamConfig {
  connect_timeout_ms: number;
  headers_timeout_ms: number;
  body_timeout_ms: number;
  keep_alive_timeout_ms: number;
  connections: number;
}

export interface TollboothConfig {
  listeners: { proxy: ListenerConfig; ops: ListenerConfig };
  /** Directory of the catalog (providers.yaml, models/*.yaml), resolved to an absolute path. */
  catalog: string;
  ledger: { dir: string };
  auth: { mode: 'keys' | 'none'; default_org: string | null };
  orgs: OrgConfig[];
  keys: CallerKeyConfig[];
  credentials: CredentialConfig[];
  routes: Record<string, RouteConfig>;
  /** Models the catalog does not know (self-hosted ones), same fields as catalog models. */
  models: ModelRecord[];
  limits: { max_body_bytes: number; max_upload_bytes: number };
  upstream: UpstreamConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}
