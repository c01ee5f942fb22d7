/**
 * Key names. Every key of one org carries the hash tag `{org}`, so one org's keys share a cluster
 * slot and a script may touch all of them on Redis Cluster or a Valkey cluster.
 */
export class StateKeys {
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  #org(org: string, name: string): string {
    return `${this.#prefix}:{${org}}:${name}`;
  }

  /** Hash: wallet, granted, charged, held (pairs, see amount.ts). */
  account(org: string): string {
    return this.#org(org, 'acct');
  }

  /** Hash: allowance used per period (pairs named by the period key). */
  allowance(org: string): string {
    return this.#org(org, 'allow');
  }

  /** Hash: hold id → "w r". */
  holds(org: string): string {
    return this.#org(org, 'holds');
  }

  /** Sorted set: hold id by expiry (server ms). */
  holdExpiry(org: string): string {
    return this.#org(org, 'holdexp');
  }

  /** String with a TTL: the split a settled hold was booked with. */
  settled(org: string, holdId: string): string {
    return this.#org(org, `settled:${holdId}`);
  }

  /** Hash: grant id → the grant entry. */
  grants(org: string): string {
    return this.#org(org, 'grants');
  }

  /** Stream: every charge and grant of the org, in the order the balances took them. */
  stream(org: string): string {
    return this.#org(org, 'ledger');
  }

  /** A rate-limit bucket; `draw` is the gate's key (`rpm:key:<id>`, `tpm:org:<id>`). */
  bucket(org: string, draw: string): string {
    return this.#org(org, `rl:${draw}`);
  }

  /** Set (no org tag): every org that has a stream, for the collector. */
  orgs(): string {
    return `${this.#prefix}:orgs`;
  }
}
