/** GET /v1/models and /v1/models/{id}: the catalog in OpenAI's list shape, with the catalog fields kept. */
import type { ModelRecord } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import { sendJson } from './respond.ts';
import type { Handler } from './services.ts';

function modelObject(m: ModelRecord): Record<string, unknown> {
  return { id: m.model_id, object: 'model', created: 0, owned_by: m.vendor, ...m };
}

export const listModels: Handler = async (ctx, req, res) => {
  ctx.runtime.auth.authenticate(req.headers);
  const data = [...ctx.runtime.catalog.models.values()].filter((m) => m.status !== 'retired').map(modelObject);
  sendJson(res, 200, JSON.stringify({ object: 'list', data }), { 'x-request-id': ctx.id });
};

export const getModel: Handler = async (ctx, req, res) => {
  ctx.runtime.auth.authenticate(req.headers);
  const id = decodeURIComponent(ctx.path.slice('/v1/models/'.length));
  const model = ctx.runtime.catalog.models.get(id);
  if (!model) throw new GatewayError('model_not_found', `The model '${id}' does not exist in the Tollbooth catalog.`, { param: 'model' });
  sendJson(res, 200, JSON.stringify(modelObject(model)), { 'x-request-id': ctx.id });
};
