/** Per-attempt limits (first byte, stream idle): the deployment's, else the route's, else routing's. */
import type { TollboothConfig } from '../config/types.ts';
import type { Target } from '../routing/target.ts';
import type { AttemptLimits } from '../upstream/transport.ts';

export function attemptLimits(config: TollboothConfig, target: Target): AttemptLimits {
  const { routes, routing } = config;
  const route = target.model ? routes[target.model.model_id] : undefined;
  if (route === undefined) return { firstByteMs: routing.first_byte_timeout_ms, idleMs: routing.stream_idle_timeout_ms };
  const d = route.deployments.find(
    (d) =>
      d.provider === target.provider.name &&
      (d.credential === null || d.credential === target.credential.id) &&
      (d.upstream_model ?? target.model?.upstream_model) === target.upstreamModel,
  );
  return {
    firstByteMs: d?.first_byte_timeout_ms ?? route.first_byte_timeout_ms ?? routing.first_byte_timeout_ms,
    idleMs: d?.stream_idle_timeout_ms ?? route.stream_idle_timeout_ms ?? routing.stream_idle_timeout_ms,
  };
}
