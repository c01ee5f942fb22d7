/** What the ledger and metrics call an operation (apart from record.ts, which bill.ts's stamp type would make a cycle). */
import type { Operation } from '../catalog/types.ts';

/**
 * What the ledger and metrics call an exchange's operation: a catalog operation, a turn of a realtime
 * (WebSocket) session, or one the provider never bills: a token count, a model listing or lookup
 * (passthrough GET /models).
 */
export type MeteredOperation = Operation | 'realtime' | 'count_tokens' | 'models';
