/**
 * Catalog records: providers and models, exactly as the YAML spells them (snake_case), because they
 * are also served as-is by the admin and models APIs.
 */

/** The wire protocol an adapter speaks; every OpenAI-compatible vendor shares `openai`. */
export type ApiFamily = 'openai' | 'anthropic' | 'gemini' | 'bedrock' | 'azure' | 'cohere';

/** What a caller can ask a model to do through the unified API. */
export type Operation = 'chat' | 'embeddings' | 'images' | 'audio_transcription' | 'text_completion' | 'rerank' | 'audio_speech';

export type Capability =
  | 'chat'
  | 'stream'
  | 'tools'
  | 'streaming_tools'
  | 'vision'
  | 'thinking'
  | 'embeddings'
  | 'images'
  | 'audio';

export type AuthSchema =
  | {
      type: 'api_key';
      /** Header the key travels in, lower case (authorization, x-api-key, x-goog-api-key, api-key). */
      header: string;
      /** Text before the key in that header, e.g. "Bearer ". */
      prefix?: string;
    }
  | {
      type: 'aws_sigv4';
      /** The seed's credential string form. */
      format: 'access_key::secret::region[::session_token]';
      service: string;
    }
  | { type: 'none' };

/** OpenAI-compatible vendors differ only in data: these switches. */
export interface OpenAICompat {
  /** `opt_in`: usage is sent only with stream_options.include_usage; `always`: sent regardless. */
  stream_usage: 'opt_in' | 'always';
  /** Whether the vendor accepts `stream_options` at all. */
  accepts_stream_options: boolean;
  /** xAI reports reasoning tokens outside completion_tokens; they are billed as output. */
  reasoning_tokens_separate: boolean;
  /** Tool calls arrive without `type` (and streamed without `index`): the unified API adds them. */
  tool_calls_incomplete: boolean;
  /** `content` may arrive as an array of text/thinking parts: the unified API flattens it. */
  content_parts: boolean;
}

export interface ProviderRecord {
  name: string;
  display_name: string;
  api: ApiFamily;
  /** The SDK base URL (origin plus API prefix). Absent for self-hosted kinds: a credential supplies it. */
  base_url: string | null;
  auth_schemas: AuthSchema[];
  capabilities: Capability[];
  /** Static headers every upstream call carries (e.g. anthropic-version). */
  default_headers: Record<string, string>;
  /** Paths below the base URL that the native passthrough forwards; everything else is refused. */
  passthrough_paths: string[];
  openai_compat: OpenAICompat | null;
  /** The cheap call that proves a key works (credential verification). */
  validation: { method: 'GET' | 'POST'; path: string } | null;
  docs_url: string | null;
}

/**
 * Rates of the finer token classes, USD per 1M tokens. A class without a rate is billed at the
 * set's input rate (input classes) or output rate (reasoning, audio/image output): with only the
 * two seed prices, credits are the seed's formula.
 */
export interface ClassRates {
  cache_read_usd_per_1m?: number;
  cache_write_5m_usd_per_1m?: number;
  cache_write_1h_usd_per_1m?: number;
  reasoning_usd_per_1m?: number;
  audio_input_usd_per_1m?: number;
  audio_output_usd_per_1m?: number;
  image_input_usd_per_1m?: number;
  image_output_usd_per_1m?: number;
}

/** Prices for a whole request whose input (cache included) is strictly above `above_input_tokens`. */
export interface ContextTierPrices extends ClassRates {
  above_input_tokens: number;
  input_usd_per_1m: number;
  output_usd_per_1m: number;
}

/** The rates of one service tier (as the provider reports it served: `flex`, `priority`, `batch`, …). */
export interface ServiceTierPrices extends ClassRates {
  input_usd_per_1m: number;
  output_usd_per_1m: number;
  context_tiers?: ContextTierPrices[];
}

/** One complete price set: what a model costs over a span of time. */
export interface PriceSet extends ClassRates {
  input_usd_per_1m: number | null;
  output_usd_per_1m: number | null;
  context_tiers?: ContextTierPrices[];
  service_tiers?: Record<string, ServiceTierPrices>;
  /** USD per non-token unit: `image` / `image:<size>:<quality>`, `audio_second`, `character`, `search`, `web_search_call`. */
  unit_prices?: Record<string, number>;
}

/** A complete price set in force from `effective_from` (UTC date or date-time) on; nothing inherited. */
export interface PriceChange extends PriceSet {
  effective_from: string;
}

export type ModelStatus = 'active' | 'preview' | 'deprecated' | 'maintenance' | 'retired';

/** A catalog model. Its own price fields are the set in force until the first of `price_changes`. */
export interface ModelRecord extends PriceSet {
  model_id: string;
  name: string;
  vendor: string;
  provider: string;
  /** The name the provider knows the model by; defaults to model_id. */
  upstream_model: string;
  operations: Operation[];
  context_window: number;
  max_output_tokens: number | null;
  knowledge_cutoff: string | null;
  quality_score: number;
  latency_score: number;
  vision: boolean;
  tools: boolean;
  structured_output: boolean;
  embedding: boolean;
  embedding_dimension: number | null;
  price_changes?: PriceChange[];
  status: ModelStatus;
  replacement_id: string | null;
  /** RFC 9745 `Deprecation` and RFC 8594 `Sunset` dates (ISO 8601), where the vendor announced them. */
  deprecation_date: string | null;
  sunset_date: string | null;
}
