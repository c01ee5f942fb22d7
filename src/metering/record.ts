/** One metered exchange: what the ledger's charge entry keeps per upstream call. */
import type { Draw } from '../admission/token-bucket.ts';
import type { MeteredOperation } from './operation.ts';
import type { BillStamp } from './pricing/bill.ts';

export type { MeteredOperation };

export type ExchangeOutcome = 'ok' | 'upstream_error' | 'aborted' | 'truncated' | 'stream_error';

export interface UsageRecord {
  ts: string;
  request_id: string;
  org: string;
  key_id: string | null;
  api: 'unified' | 'native';
  operation: MeteredOperation;
  stream: boolean;
  /** The model id the caller named (catalog id on the unified API, provider name on passthrough). */
  requested_model: string | null;
  /** The catalog model that served, after deprecation routing; null when the catalog lacks it. */
  model: string | null;
  provider: string;
  upstream_model: string;
  credential: string;
  billing: 'managed' | 'byok';
  status: number;
  outcome: ExchangeOutcome;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  usage_source: 'reported' | 'estimated' | 'none';
  /** Exact decimal credits (see metering/credits.ts). */
  credits: string;
  unpriced: boolean;
  /** The bill by class, rate id and catalog version (managed charges with usage): re-derivable alone. */
  bill?: BillStamp;
  attempts: number;
  duration_ms: number;
  ttfb_ms: number | null;
}

/** What an admission took for the exchange: the credit hold (id null: nothing held) and the TPM buckets to correct. */
export interface Hold {
  id: string | null;
  pico: bigint;
  corrections: readonly Draw[];
}

/** Where metered exchanges go: the ledger (src/metering/ledger/). */
export interface UsageRecorder {
  /**
   * `pico`: the record's credits as pico-credits, when the caller has them (spares a parse).
   * Resolves once the entry is written to the ledger file (the page cache: it survives a crash of
   * the process; durability against power loss follows with the group-commit sync). Never rejects.
   * `hold`: the admission's credit hold, dropped in the same step that books the charge.
   */
  record(entry: UsageRecord, pico?: bigint, hold?: Hold): Promise<void>;
  /** Flushes everything recorded so far to durable storage. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
