/**
 * JSON Schemas for the main config and the catalog. `errorMessage` (ajv-errors) carries the sentence
 * a human reads when a value is wrong; defaults fill what the YAML leaves out.
 */

const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9._:/-]*$', maxLength: 128 } as const;
const usdPer1M = {
  type: ['number', 'null'],
  minimum: 0,
  errorMessage: 'must be a price in USD per 1M tokens (a number ≥ 0, at most 6 decimals) or null when unpriced',
} as const;

const rate = { ...usdPer1M, type: 'number' } as const;
const classRates = {
  cache_read_usd_per_1m: rate,
  cache_write_5m_usd_per_1m: rate,
  cache_write_1h_usd_per_1m: rate,
  reasoning_usd_per_1m: rate,
  audio_input_usd_per_1m: rate,
  audio_output_usd_per_1m: rate,
  image_input_usd_per_1m: rate,
  image_output_usd_per_1m: rate,
} as const;
/**
 * The price schemas, added to ajv once under their own id and referenced from every place a price
 * set appears (a model, its price changes, a service tier): inlined, they made ajv generate the
 * same code a dozen times over (≈ 4 MB of the process's memory).
 */
export const PRICES_SCHEMA_ID = 'tollbooth:prices';
const ref = (name: string) => ({ $ref: `${PRICES_SCHEMA_ID}#/$defs/${name}` }) as const;

export const pricesSchema = {
  $id: PRICES_SCHEMA_ID,
  $defs: {
    contextTiers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['above_input_tokens', 'input_usd_per_1m', 'output_usd_per_1m'],
        properties: { above_input_tokens: { type: 'integer', minimum: 0 }, input_usd_per_1m: rate, output_usd_per_1m: rate, ...classRates },
      },
    },
    serviceTiers: {
      type: 'object',
      propertyNames: { pattern: '^[a-z0-9_-]+$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['input_usd_per_1m', 'output_usd_per_1m'],
        properties: { input_usd_per_1m: rate, output_usd_per_1m: rate, ...classRates, context_tiers: ref('contextTiers') },
      },
      errorMessage: { propertyNames: 'a service tier is named as the provider reports it served (lower case: flex, priority, batch, …)' },
    },
    unitPrices: {
      type: 'object',
      propertyNames: {
        pattern: '^(image(:[a-z0-9x_-]+)*|audio_second|character|search|web_search_call)$',
      },
      additionalProperties: { type: 'number', minimum: 0 },
      errorMessage: {
        propertyNames: 'a unit is image, image:<size>:<quality>, audio_second, character, search or web_search_call',
        additionalProperties: 'a unit price is a number of USD per unit ≥ 0 (at most 12 decimals)',
      },
    },
    priceChanges: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['effective_from', 'input_usd_per_1m', 'output_usd_per_1m'],
        properties: {
          effective_from: {
            type: 'string',
            // A date-time names its offset: without one, Date.parse would read the host's local time.
            pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$',
            errorMessage: 'must be a UTC date YYYY-MM-DD or an ISO 8601 date-time with its offset (…Z or …+02:00; quote it in YAML)',
          },
          input_usd_per_1m: usdPer1M,
          output_usd_per_1m: usdPer1M,
          ...classRates,
          context_tiers: ref('contextTiers'),
          service_tiers: ref('serviceTiers'),
          unit_prices: ref('unitPrices'),
        },
      },
    },
  },
} as const;

/** Everything a price set holds besides the two seed prices. */
const priceSetProperties = {
  ...classRates,
  context_tiers: ref('contextTiers'),
  service_tiers: ref('serviceTiers'),
  unit_prices: ref('unitPrices'),
} as const;

export const secretRefSchema = {
  type: 'object',
  oneOf: [
    { required: ['env'], properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } } },
    { required: ['file'], properties: { file: { type: 'string', minLength: 1 } } },
  ],
  additionalProperties: false,
  properties: { env: {}, file: {} },
  errorMessage:
    'must reference a secret as {env: VAR_NAME} or {file: /path/to/secret}; literal keys are not allowed in the YAML',
} as const;

const AWS_REGION = '^[a-z]{2,}(-[a-z0-9]+)+-\\d+$';
const AWS_IDENTITY = 'aws_workload_identity';
const AZURE_IDENTITY = 'azure_workload_identity';
const identityKind = (kind: string) => ({ required: ['kind'], properties: { kind: { const: kind } } }) as const;

/**
 * A credential's workload identity (src/credentials/identity/): keys or tokens from the platform
 * instead of a Secret. Typed object-or-null rather than anyOf, so that ajv fills the defaults.
 */
export const workloadIdentitySchema = {
  type: ['object', 'null'],
  default: null,
  required: ['kind'],
  properties: {
    kind: {
      enum: [AWS_IDENTITY, AZURE_IDENTITY],
      errorMessage: `must be ${AWS_IDENTITY} (IRSA, EKS Pod Identity, instance role: the AWS default credential chain) or ${AZURE_IDENTITY} (Microsoft Entra workload identity or managed identity)`,
    },
  },
  allOf: [
    {
      if: identityKind(AWS_IDENTITY),
      then: {
        additionalProperties: false,
        properties: {
          kind: {},
          role_arn: {
            type: ['string', 'null'],
            pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$',
            default: null,
            errorMessage: 'must be an IAM role ARN (arn:aws:iam::123456789012:role/name) to assume with the chain\'s keys, or null',
          },
          session_name: { type: ['string', 'null'], pattern: '^[\\w+=,.@-]{2,64}$', default: null, errorMessage: 'must be an STS role session name (2-64 of letters, digits, +=,.@_-) or null' },
        },
      },
    },
    {
      if: identityKind(AZURE_IDENTITY),
      then: {
        additionalProperties: false,
        properties: {
          kind: {},
          client_id: { type: ['string', 'null'], minLength: 1, default: null, errorMessage: 'must be the Entra application (client) id, or null to take AZURE_CLIENT_ID' },
          tenant_id: { type: ['string', 'null'], minLength: 1, default: null, errorMessage: 'must be the Entra tenant id, or null to take AZURE_TENANT_ID' },
          scope: { type: 'string', pattern: '^https://\\S+$', default: 'https://cognitiveservices.azure.com/.default', errorMessage: 'must be an https:// token scope (Azure OpenAI: https://cognitiveservices.azure.com/.default)' },
          disable_instance_discovery: { type: 'boolean', default: false },
        },
      },
    },
  ],
} as const;

/** Rules between a credential's identity and its other fields. */
const credentialIdentityRules = [
  {
    if: { required: ['identity'], properties: { identity: { type: 'object' } } },
    then: {
      properties: {
        secret: {
          type: 'null',
          errorMessage: 'must be left out when identity is set: a workload identity credential takes its keys from the platform, not from a secret',
        },
      },
    },
  },
  {
    if: { required: ['identity'], properties: { identity: { type: 'object', ...identityKind(AWS_IDENTITY) } } },
    then: {
      required: ['region'],
      properties: {
        region: {
          type: 'string',
          pattern: AWS_REGION,
          errorMessage: `must name the AWS region (e.g. us-east-1): with ${AWS_IDENTITY} no credential string carries one`,
        },
      },
      errorMessage: { required: { region: `an ${AWS_IDENTITY} credential must set region (e.g. us-east-1)` } },
    },
  },
] as const;

export const modelSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'model_id', 'name', 'vendor', 'provider', 'context_window', 'quality_score', 'latency_score',
    'input_usd_per_1m', 'output_usd_per_1m', 'status',
  ],
  properties: {
    model_id: id,
    name: { type: 'string', minLength: 1 },
    vendor: { type: 'string', minLength: 1 },
    provider: id,
    upstream_model: { type: 'string', minLength: 1 },
    operations: {
      type: 'array',
      items: { enum: ['chat', 'embeddings', 'images', 'audio_transcription', 'text_completion', 'rerank', 'audio_speech'] },
      minItems: 1,
      uniqueItems: true,
    },
    context_window: { type: 'integer', minimum: 0 },
    max_output_tokens: { type: ['integer', 'null'], minimum: 0, default: null },
    knowledge_cutoff: {
      type: ['string', 'null'],
      pattern: '^\\d{4}-\\d{2}(-\\d{2})?$',
      default: null,
      errorMessage: 'must be a date written YYYY-MM or YYYY-MM-DD (quote it in YAML), or null',
    },
    quality_score: { type: 'number', minimum: 0, maximum: 100 },
    latency_score: { type: 'number', minimum: 0, maximum: 100 },
    vision: { type: 'boolean', default: false },
    tools: { type: 'boolean', default: false },
    structured_output: { type: 'boolean', default: false },
    embedding: { type: 'boolean', default: false },
    embedding_dimension: { type: ['integer', 'null'], minimum: 1, default: null },
    input_usd_per_1m: usdPer1M,
    output_usd_per_1m: usdPer1M,
    ...priceSetProperties,
    price_changes: ref('priceChanges'),
    status: { enum: ['active', 'preview', 'deprecated', 'maintenance', 'retired'] },
    replacement_id: { anyOf: [id, { type: 'null' }], default: null },
    deprecation_date: { type: ['string', 'null'], format: 'date', default: null },
    sunset_date: { type: ['string', 'null'], format: 'date', default: null },
  },
} as const;

const authSchemaSchema = {
  type: 'object',
  required: ['type'],
  oneOf: [
    {
      properties: {
        type: { const: 'api_key' },
        header: { type: 'string', pattern: '^[a-z0-9-]+$' },
        prefix: { type: 'string' },
      },
      required: ['type', 'header'],
      additionalProperties: false,
    },
    {
      properties: {
        type: { const: 'aws_sigv4' },
        format: { const: 'access_key::secret::region[::session_token]' },
        service: { type: 'string' },
      },
      required: ['type', 'format', 'service'],
      additionalProperties: false,
    },
    { properties: { type: { const: 'none' } }, required: ['type'], additionalProperties: false },
  ],
} as const;

export const providerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'display_name', 'api', 'auth_schemas', 'capabilities'],
  properties: {
    name: id,
    display_name: { type: 'string' },
    api: { enum: ['openai', 'anthropic', 'gemini', 'bedrock', 'azure', 'cohere'] },
    base_url: { type: ['string', 'null'], pattern: '^https?://', default: null },
    auth_schemas: { type: 'array', items: authSchemaSchema, minItems: 1 },
    capabilities: {
      type: 'array',
      uniqueItems: true,
      items: {
        enum: ['chat', 'stream', 'tools', 'streaming_tools', 'vision', 'thinking', 'embeddings', 'images', 'audio'],
      },
    },
    default_headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    passthrough_paths: { type: 'array', items: { type: 'string', pattern: '^/' }, default: [] },
    openai_compat: {
      type: ['object', 'null'],
      additionalProperties: false,
      default: null,
      properties: {
        stream_usage: { enum: ['opt_in', 'always'], default: 'opt_in' },
        accepts_stream_options: { type: 'boolean', default: true },
        reasoning_tokens_separate: { type: 'boolean', default: false },
        tool_calls_incomplete: { type: 'boolean', default: false },
        content_parts: { type: 'boolean', default: false },
      },
    },
    validation: {
      type: ['object', 'null'],
      default: null,
      additionalProperties: false,
      required: ['method', 'path'],
      properties: {
        method: { enum: ['GET', 'POST'] },
        // Relative to base_url, or an absolute URL template when the check lives on another host.
        path: { type: 'string', pattern: '^(/|https://)' },
      },
    },
    docs_url: { type: ['string', 'null'], default: null },
  },
} as const;

export const providersFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['providers'],
  properties: { providers: { type: 'array', items: providerSchema } },
} as const;

export const modelsFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: { models: { type: 'array', items: modelSchema } },
} as const;

/** Credits in the YAML: a decimal string (exact) or a number; cross-checks parse it exactly. */
const creditAmount = {
  anyOf: [
    { type: 'string', pattern: '^\\d+(\\.\\d{1,12})?$' },
    { type: 'number', minimum: 0 },
  ],
  errorMessage: 'must be a credit amount ≥ 0: a decimal string such as "1000" or "12.5" (at most 12 decimals)',
} as const;

const rateLimits = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    rpm: { type: ['integer', 'null'], minimum: 1, default: null },
    tpm: { type: ['integer', 'null'], minimum: 1, default: null },
  },
} as const;

const planSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allowance: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['credits', 'period'],
      default: null,
      properties: { credits: creditAmount, period: { enum: ['daily', 'monthly'] } },
    },
    models: { type: ['array', 'null'], items: { type: 'string' }, uniqueItems: true, default: null },
    providers: { type: ['array', 'null'], items: id, uniqueItems: true, default: null },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { per_key: rateLimits, per_org: rateLimits },
    },
  },
} as const;

const listener = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
  },
} as const;

export const mainConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listeners: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        proxy: { ...listener, default: { host: '127.0.0.1', port: 4000 } },
        ops: { ...listener, default: { host: '127.0.0.1', port: 4001 } },
      },
    },
    catalog: { type: 'string', default: './catalog' },
    ledger: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dir: { type: 'string', default: './data' },
        max_file_bytes: { type: 'integer', minimum: 1024, default: 64 * 1024 * 1024 },
        commit_window_ms: { type: 'number', minimum: 0, maximum: 100, default: 2 },
        sync_interval_ms: { type: 'number', minimum: 0, maximum: 1000, default: 20 },
        checkpoint_every_entries: { type: 'integer', minimum: 0, default: 10_000 },
        checkpoint_interval_s: { type: 'number', minimum: 0, default: 300 },
        format: { enum: [1, 2], default: 2 },
        retention: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            archive_dir: { type: ['string', 'null'], minLength: 1, default: null },
            keep_days: { type: ['number', 'null'], minimum: 0, default: null },
            keep_bytes: { type: ['integer', 'null'], minimum: 0, default: null },
            archive_command: { type: ['string', 'null'], minLength: 1, default: null },
          },
        },
      },
    },
    state: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['memory', 'redis'], default: 'memory' },
        on_unavailable: { enum: ['deny', 'local'], default: 'deny' },
        hold_ttl_ms: { type: 'integer', minimum: 1000, default: 900_000 },
        instance_id: { type: ['string', 'null'], pattern: '^[A-Za-z0-9._:-]{1,128}$', default: null },
        redis: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            url: {
              type: 'string',
              pattern: '^rediss?://[^@]*$',
              default: 'redis://127.0.0.1:6379',
              errorMessage: 'must be a redis:// or rediss:// URL without a user or password (give those as username/password secret references)',
            },
            tls: { type: 'boolean', default: false },
            username: { anyOf: [secretRefSchema, { type: 'null' }], default: null },
            password: { anyOf: [secretRefSchema, { type: 'null' }], default: null },
            key_prefix: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,32}$', default: 'tollbooth' },
            command_timeout_ms: { type: 'integer', minimum: 10, default: 1000 },
            connect_timeout_ms: { type: 'integer', minimum: 10, default: 2000 },
            settled_ttl_s: { type: 'integer', minimum: 60, default: 604_800 },
          },
        },
        leases: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: true },
            holds_per_lease: { type: 'integer', minimum: 1, maximum: 10_000, default: 16 },
            share: { type: 'integer', minimum: 1, maximum: 1000, default: 4 },
            idle_ms: { type: 'integer', minimum: 100, default: 2000 },
          },
        },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['keys', 'none'], default: 'keys' },
        default_org: { type: ['string', 'null'], default: null },
      },
    },
    orgs: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id,
          name: { type: 'string', default: '' },
          plan: { anyOf: [id, { type: 'null' }], default: null },
          wallet: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              grants: {
                type: 'array',
                default: [],
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['id', 'credits'],
                  properties: { id, credits: creditAmount, note: { type: 'string', default: '' } },
                },
              },
            },
          },
        },
      },
    },
    plans: { type: 'object', default: {}, additionalProperties: planSchema },
    keys: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'org', 'hash'],
        properties: {
          id,
          org: id,
          role: { enum: ['owner', 'admin', 'member', 'operator'], default: 'member' },
          hash: {
            type: 'string',
            pattern: '^sha256:[0-9a-f]{64}$',
            errorMessage:
              'must be "sha256:" followed by 64 lower-case hex digits (run `tollbooth hash-key` to make one); keys are never stored in clear',
          },
        },
      },
    },
    credentials: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'provider', 'billing'],
        allOf: credentialIdentityRules,
        properties: {
          id,
          provider: id,
          billing: { enum: ['managed', 'byok'] },
          secret: { anyOf: [secretRefSchema, { type: 'null' }], default: null },
          identity: workloadIdentitySchema,
          base_url: { type: ['string', 'null'], pattern: '^https?://', default: null },
          region: { type: ['string', 'null'], default: null },
          api_version: { type: ['string', 'null'], default: null },
          default: { type: 'boolean', default: false },
        },
      },
    },
    routes: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['deployments'],
        properties: {
          strategy: { enum: ['priority', 'weighted', 'least-latency'], default: 'priority' },
          first_byte_timeout_ms: { type: ['integer', 'null'], minimum: 1, default: null },
          stream_idle_timeout_ms: { type: ['integer', 'null'], minimum: 1, default: null },
          deployments: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['provider'],
              properties: {
                provider: id,
                credential: { anyOf: [id, { type: 'null' }], default: null },
                upstream_model: { type: ['string', 'null'], default: null },
                weight: { type: 'number', exclusiveMinimum: 0, default: 1 },
                first_byte_timeout_ms: { type: ['integer', 'null'], minimum: 1, default: null },
                stream_idle_timeout_ms: { type: ['integer', 'null'], minimum: 1, default: null },
              },
            },
          },
        },
      },
    },
    models: { type: 'array', items: modelSchema, default: [] },
    /**
     * Anthropic model names (Claude Code's own, e.g. claude-sonnet-4-5-20250929) → catalog model ids,
     * for POST /v1/messages. A key ending in `*` matches by prefix; exact keys win.
     */
    anthropic_model_map: {
      type: 'object',
      default: {},
      propertyNames: { type: 'string', minLength: 1, maxLength: 256 },
      additionalProperties: id,
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_body_bytes: { type: 'integer', minimum: 1024, default: 4 * 1024 * 1024 },
        max_upload_bytes: { type: 'integer', minimum: 1024, default: 25 * 1024 * 1024 },
        /** Deepest nesting of objects and arrays a JSON body may have; deeper is a 400 before parsing. */
        max_json_depth: { type: 'integer', minimum: 8, maximum: 4096, default: 128 },
        /** Both listeners: the request head must arrive within this, the whole request within the next. */
        headers_timeout_ms: { type: 'integer', minimum: 100, default: 20_000 },
        request_timeout_ms: { type: 'integer', minimum: 100, default: 300_000 },
        /** Longest quiet time between two chunks of a request body being read: a 408. */
        body_idle_timeout_ms: { type: 'integer', minimum: 100, default: 30_000 },
        max_upstream_body_bytes: { type: 'integer', minimum: 1024, default: 32 * 1024 * 1024 },
      },
    },
    upstream: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        connect_timeout_ms: { type: 'integer', minimum: 1, default: 5_000 },
        headers_timeout_ms: { type: 'integer', minimum: 1, default: 120_000 },
        body_timeout_ms: { type: 'integer', minimum: 1, default: 300_000 },
        keep_alive_timeout_ms: { type: 'integer', minimum: 1, default: 30_000 },
        connections: { type: 'integer', minimum: 1, default: 256 },
      },
    },
    routing: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_attempts: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
        deadline_ms: { type: 'integer', minimum: 100, default: 120_000 },
        first_byte_timeout_ms: { type: 'integer', minimum: 1, default: 60_000 },
        stream_idle_timeout_ms: { type: 'integer', minimum: 1, default: 60_000 },
        health_window_ms: { type: 'integer', minimum: 1000, default: 60_000 },
        credential_cooldown_ms: { type: 'integer', minimum: 0, default: 60_000 },
        breaker: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            window_ms: { type: 'integer', minimum: 1000, default: 30_000 },
            min_requests: { type: 'integer', minimum: 1, default: 5 },
            failure_ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5 },
            open_ms: { type: 'integer', minimum: 100, default: 15_000 },
            /** Cap of the open period, which doubles with each trip in a row. */
            max_open_ms: { type: 'integer', minimum: 100, default: 120_000 },
            ramp_ms: { type: 'integer', minimum: 0, default: 30_000 },
          },
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
    credential_store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { type: ['string', 'null'], minLength: 1, default: null },
        key: { anyOf: [secretRefSchema, { type: 'null' }], default: null },
        /** Base URLs an org credential may name besides the catalog's (exact, or `https://*.domain`). */
        allowed_base_urls: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      },
    },
    telemetry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** OpenTelemetry traces over OTLP/HTTP; null fields fall back to the standard OTEL_* env vars. */
        traces: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            /** null: on when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT or OTEL_TRACES_EXPORTER=otlp is set. */
            enabled: { type: ['boolean', 'null'], default: null },
            /** The full OTLP/HTTP traces URL (…/v1/traces). */
            endpoint: { type: ['string', 'null'], pattern: '^https?://', default: null },
            service_name: { type: ['string', 'null'], minLength: 1, default: null },
            /** Head sampling of new traces (a caller's sampled flag is followed); null: OTEL_TRACES_SAMPLER. */
            sample_ratio: { type: ['number', 'null'], minimum: 0, maximum: 1, default: null },
          },
        },
      },
    },
    watch: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        debounce_ms: { type: 'integer', minimum: 0, maximum: 60_000, default: 250 },
        poll_interval_ms: { type: 'integer', minimum: 50, default: 10_000 },
      },
    },
  },
} as const;
