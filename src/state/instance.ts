/** This process's name in ledger locks and the shared charge stream. */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { TollboothConfig } from '../config/types.ts';

/** state.instance_id, else the host name (the pod's) and a digest of the ledger dir: one per ledger writer. */
export function instanceId(config: TollboothConfig): string {
  if (config.state.instance_id) return config.state.instance_id;
  return `${hostname()}-${createHash('sha256').update(config.ledger.dir).digest('hex').slice(0, 8)}`;
}
