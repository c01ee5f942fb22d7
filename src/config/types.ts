/** The main config file, after validation. Field names match the YAML. */
import type { ModelRecord } from '../catalog/types.ts';
import type { RoutingPolicy } from '../routing/policy.ts';

/** A secret is only ever named, never written in the YAML. */
export type SecretRef = { env: string } | { file: string };

export interface ListenerConfig {
  host: string;
  port: number;
}

/** owner/admin manage their own org; operator (the platform team) grants credits to any org. */
export type Role = 'owner' | 'admin' | 'member' | 'operator';

export interface CallerKeyConfig {
  id: string;
  org: string;
  role: Role;
  /** `sha256:<64 hex>` of the key; the key itself is never stored. */
  hash: string;
}

/** A credit amount as written in the YAML: a decimal string ("1000", "12.5") or a plain number. */
export type CreditAmount = string | number;

export interface WalletGrantConfig {
  /** Applied once: the ledger remembers which grant ids it has recorded for the org. */
  id: string;
  credits: CreditAmount;
  note: string;
}

/** Closed ledger files covered by a later checkpoint are compressed into `archive_dir`, then removed. */
export interface LedgerRetentionConfig {
  /** null: retention off (the ledger only grows). Relative paths are under the ledger directory. */
  archive_dir: string | null;
  /** Archive closed files whose last write is older than this many days. */
  keep_days: number | null;
  /** Archive the oldest closed files while the ledger directory holds more than this. */
  keep_bytes: number | null;
  /** Run for each archived file (sh -c, TOLLBOOTH_ARCHIVE_FILE set), e.g. an upload; the file is removed only after exit 0. */
  archive_command: string | null;
}

export interface OrgConfig {
  id: string;
  name: string;
  /** A name under `plans`; null: no plan, so no allowance, limits or credit check (usage is still recorded). */
  plan: string | null;
  wallet: { grants: WalletGrantConfig[] };
}

export interface RateLimitConfig {
  /** Requests per minute; null: unlimited. */
  rpm: number | null;
  /** Tokens (input + output) per minute; null: unlimited. */
  tpm: number | null;
}

export interface PlanConfig {
  /** Credits granted each period (UTC calendar day or month), spent before the wallet. */
  allowance: { credits: CreditAmount; period: 'daily' | 'monthly' } | null;
  /** Catalog model ids the plan may use; null: every model. */
  models: string[] | null;
  /** Providers the plan may use; null: every provider. */
  providers: string[] | null;
  limits: { per_key: RateLimitConfig; per_org: RateLimitConfig };
}

export interface CredentialConfig {
  id: string;
  provider: string;
  /** managed: operator-provisioned, metered in credits; byok: the customer's own key, 0 credits. */
  billing: 'managed' | 'byok';
  /** Absent only for providers whose auth schema is `none` (e.g. a keyless vLLM), or with `identity`. */
  secret: SecretRef | null;
  /** Keys from the platform's workload identity instead of a secret (never both). */
  identity: WorkloadIdentityConfig | null;
  /** Overrides the provider's base URL (Azure resource, vLLM server, regional endpoint). */
  base_url: string | null;
  region: string | null;
  api_version: string | null;
  /** The credential used for the provider when a deployment names none. */
  default: boolean;
}

/** AWS: the SDK's default credential chain (IRSA, EKS Pod Identity, instance role), optionally then a role. */
export interface AwsWorkloadIdentityConfig {
  kind: 'aws_workload_identity';
  /** A role to assume (sts:AssumeRole) with the chain's keys; null: sign with the chain's own keys. */
  role_arn: string | null;
  session_name: string | null;
}

/** Azure: Microsoft Entra ID tokens from workload identity (federated token file) or a managed identity. */
export interface AzureWorkloadIdentityConfig {
  kind: 'azure_workload_identity';
  /** Overrides AZURE_CLIENT_ID (a user-assigned managed identity, or the workload identity's app). */
  client_id: string | null;
  /** Overrides AZURE_TENANT_ID. */
  tenant_id: string | null;
  /** The token's scope: Azure OpenAI's by default. */
  scope: string;
  /** Skips Entra's authority validation: only for private clouds (Azure Stack) and test doubles. */
  disable_instance_discovery: boolean;
}

export type WorkloadIdentityConfig = AwsWorkloadIdentityConfig | AzureWorkloadIdentityConfig;

export interface DeploymentConfig {
  provider: string;
  credential: string | null;
  upstream_model: string | null;
  weight: number;
  /** Overrides the route's and routing's limits for this deployment (null: inherit). */
  first_byte_timeout_ms?: number | null;
  stream_idle_timeout_ms?: number | null;
}

/**
 * Per-attempt upstream limits: an attempt whose response head takes longer than `first_byte_timeout_ms`
 * is abandoned (a health failure; the next deployment is tried); a stream quiet for longer than
 * `stream_idle_timeout_ms` between chunks is ended with an explicit error.
 */
export interface AttemptLimitsConfig {
  first_byte_timeout_ms: number;
  stream_idle_timeout_ms: number;
}

export interface RouteConfig {
  strategy: 'priority' | 'weighted' | 'least-latency';
  deployments: DeploymentConfig[];
  first_byte_timeout_ms?: number | null;
  stream_idle_timeout_ms?: number | null;
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
  ledger: {
    dir: string;
    /** A ledger file is rotated once it would grow past this size; the hash chain continues. */
    max_file_bytes: number;
    /** Longest an entry waits before it is written to the file (then it survives a process crash). */
    commit_window_ms: number;
    /** Longest a written entry waits for the fdatasync that makes it durable (and acknowledged). */
    sync_interval_ms: number;
    /** A checkpoint (the replay so far, in the chain) after this many entries; 0: only at rotation and shutdown. */
    checkpoint_every_entries: number;
    /** A checkpoint this often while entries are appended; 0: not by time. */
    checkpoint_interval_s: number;
    /** Line format of new ledger files: 2 (compact: short keys, defaults left out; the default) or 1 (JSON, full keys). */
    format: 1 | 2;
    retention: LedgerRetentionConfig;
  };
  state: StateConfig;
  auth: { mode: 'keys' | 'none'; default_org: string | null };
  plans: Record<string, PlanConfig>;
  orgs: OrgConfig[];
  keys: CallerKeyConfig[];
  credentials: CredentialConfig[];
  routes: Record<string, RouteConfig>;
  /** Models the catalog does not know (self-hosted ones), same fields as catalog models. */
  models: ModelRecord[];
  /** Anthropic model names → catalog model ids for POST /v1/messages (a key ending in `*` is a prefix). */
  anthropic_model_map: Record<string, string>;
  limits: {
    max_body_bytes: number;
    max_upload_bytes: number;
    /** The most of an upstream body ever held in memory (a unified answer larger than this is a 502). */
    max_upstream_body_bytes: number;
    /** Deepest object/array nesting of a JSON request body (a 400 beyond it, before parsing). */
    max_json_depth: number;
    /** Listener limits: the request head, the whole request, and the quiet time inside a body. */
    headers_timeout_ms: number;
    request_timeout_ms: number;
    body_idle_timeout_ms: number;
  };
  upstream: UpstreamConfig;
  routing: RoutingPolicy & AttemptLimitsConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  credential_store: CredentialStoreConfig;
  watch: WatchConfig;
  telemetry: { traces: TracesConfig };
}

/** OpenTelemetry traces (src/telemetry/): null fields are left to the standard OTEL_* env vars. */
export interface TracesConfig {
  /** null: on when the environment configures an OTLP endpoint (settings.ts). */
  enabled: boolean | null;
  /** The full OTLP/HTTP traces URL. */
  endpoint: string | null;
  service_name: string | null;
  /** Parent-based trace-id ratio sampling of new traces. */
  sample_ratio: number | null;
}

/** Where credentials created over the API are kept, encrypted at rest. */
export interface CredentialStoreConfig {
  /** Absolute path after loading (default: `<ledger dir>/credentials.enc`). */
  path: string;
  /** 32 random bytes, base64, from a Secret; without it the credential API refuses to store. */
  key: SecretRef | null;
  /**
   * Base URLs an org credential may name, besides the catalog's and the operator's credentials'
   * (exact, or `https://*.domain` for any host below it); verification refuses every other target.
   */
  allowed_base_urls: string[];
}

/** Live reload of the mounted config and secret files (Kubernetes `..data` swaps), besides SIGHUP. */
export interface WatchConfig {
  enabled: boolean;
  /** Quiet time after the last file event before the files are checked. */
  debounce_ms: number;
  /** The periodic stat that catches what file events miss. */
  poll_interval_ms: number;
}

/** Where money and limits are decided: this process (memory) or Redis/Valkey shared by every replica. */
export interface StateConfig {
  mode: 'memory' | 'redis';
  /**
   * What managed calls get while Redis is unreachable: `deny` (a 503 DenialEnvelope, layer state), or
   * `local`: admitted against what this replica's credit lease still holds, then denied like `deny`.
   */
  on_unavailable: 'deny' | 'local';
  /** A hold left by a replica that died before settling frees itself after this long. */
  hold_ttl_ms: number;
  /** Names this process in the shared charge stream (default: host name + a digest of the ledger dir). */
  instance_id: string | null;
  redis: {
    url: string;
    tls: boolean;
    username: SecretRef | null;
    password: SecretRef | null;
    key_prefix: string;
    command_timeout_ms: number;
    connect_timeout_ms: number;
    /** How long a settled hold id is remembered, making a replayed settle a no-op. */
    settled_ttl_s: number;
  };
  /** Credit leases: a replica admits from a slice of the org's credits it holds, with no round trip. */
  leases: {
    enabled: boolean;
    /** A lease grows by this many times the request's hold… */
    holds_per_lease: number;
    /** …but by at most 1/share of what the org has available. */
    share: number;
    /** A lease unused this long goes back to the org. */
    idle_ms: number;
  };
}
