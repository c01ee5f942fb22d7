/**
 * A short-lived credential (AWS session keys, an Entra access token) kept fresh. It is fetched on
 * first use; past its refresh point (5 minutes before expiry, or half its lifetime when that is
 * shorter) the next use starts one fetch in the background and keeps the current value, so no
 * request waits on a refresh; only a missing or expired value is waited for. A failed refresh keeps
 * the current value until it expires, and failures back off so a broken identity endpoint is not
 * hammered by every request.
 */

export interface Expiring<T> {
  value: T;
  /** Epoch ms; null: never expires. */
  expiresAt: number | null;
  /** Epoch ms the issuer asks to be refreshed at (Entra's refresh_in), when it says. */
  refreshAt?: number | null;
}

interface Entry<T> {
  value: T;
  /** Past this, the value is not used (a margin before expiry for the request's transit). */
  usableUntil: number;
  refreshAt: number;
}

const REFRESH_BEFORE_MS = 5 * 60_000;
const TRANSIT_MARGIN_MS = 30_000;
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

export class Refreshing<T> {
  readonly #fetch: () => Promise<Expiring<T>>;
  readonly #clock: () => number;
  #current: Entry<T> | null = null;
  #inflight: Promise<Entry<T>> | null = null;
  #failures = 0;
  #lastError: unknown = null;
  #retryAt = 0;

  constructor(fetch: () => Promise<Expiring<T>>, clock: () => number = Date.now) {
    this.#fetch = fetch;
    this.#clock = clock;
  }

  /** The current value: fetched when there is none or it expired, refreshed in the background when due. */
  async get(): Promise<T> {
    const now = this.#clock();
    const current = this.#current;
    if (current !== null && now < current.usableUntil) {
      if (now >= current.refreshAt && now >= this.#retryAt) void this.#refresh().catch(() => {});
      return current.value;
    }
    if (now < this.#retryAt && this.#inflight === null) throw this.#lastError;
    return (await this.#refresh()).value;
  }

  /** The value held now, if any (for redaction): never fetches. */
  peek(): T | null {
    return this.#current?.value ?? null;
  }

  #refresh(): Promise<Entry<T>> {
    this.#inflight ??= this.#fetchEntry().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #fetchEntry(): Promise<Entry<T>> {
    const fetchedAt = this.#clock();
    try {
      const fetched = await this.#fetch();
      const entry = entryOf(fetched, fetchedAt);
      this.#current = entry;
      this.#failures = 0;
      this.#retryAt = 0;
      return entry;
    } catch (err) {
      this.#failures += 1;
      this.#lastError = err;
      this.#retryAt = this.#clock() + Math.min(MIN_BACKOFF_MS * 2 ** (this.#failures - 1), MAX_BACKOFF_MS);
      throw err;
    }
  }
}

function entryOf<T>(fetched: Expiring<T>, fetchedAt: number): Entry<T> {
  if (fetched.expiresAt === null) return { value: fetched.value, usableUntil: Infinity, refreshAt: Infinity };
  const lifetime = Math.max(0, fetched.expiresAt - fetchedAt);
  const refreshAt = Math.min(fetched.expiresAt - Math.min(REFRESH_BEFORE_MS, lifetime / 2), fetched.refreshAt ?? Infinity);
  return { value: fetched.value, usableUntil: fetched.expiresAt - Math.min(TRANSIT_MARGIN_MS, lifetime / 10), refreshAt };
}
