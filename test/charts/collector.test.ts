/**
 * The ledger collector in the chart (state: redis): one Deployment, one replica, Recreate, its own
 * claim, `tollbooth ledger collect` on the chart's config; pods the gateway's selectors never match;
 * refused without shared state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadChart, renderChart } from './support/helm.ts';
import { selects } from './support/selectors.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const chart = loadChart(join(ROOT, 'charts/tollbooth'));
const render = (values: Record<string, unknown>) => renderChart(chart, { release: 'tb', namespace: 'llm', values }).manifests.map((m) => m.object as any);
const redis = { config: { state: { mode: 'redis', redis: { url: 'redis://redis.platform.svc:6379' } } } };

test('collector.enabled: one replica writing the consolidated ledger onto its own claim', () => {
  const objects = render({ ...redis, standalone: { replicas: 3 }, collector: { enabled: true } });
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  assert.equal(deployments.length, 2);
  const gateway = deployments.find((d) => d.metadata.name === 'tb-tollbooth');
  const collector = deployments.find((d) => d.metadata.name === 'tb-tollbooth-collector');
  assert.equal(gateway.spec.replicas, 3);
  assert.equal(collector.spec.replicas, 1);
  assert.equal(collector.spec.strategy.type, 'Recreate');
  const container = collector.spec.template.spec.containers[0];
  assert.deepEqual(container.args, ['ledger', 'collect', '--config', '/etc/tollbooth/tollbooth.yaml', '--dir', '/var/lib/tollbooth/consolidated']);
  const claim = objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'tb-tollbooth-collector');
  assert.ok(claim, 'its own claim');
  assert.equal(collector.spec.template.spec.volumes.find((v: any) => v.name === 'consolidated-ledger').persistentVolumeClaim.claimName, claim.metadata.name);
  // Neither selects the other's pods: the gateway's Service, budget and policy never reach the collector.
  assert.ok(!selects(gateway.spec.selector, collector.spec.template.metadata.labels));
  assert.ok(!selects(collector.spec.selector, gateway.spec.template.metadata.labels));
  const service = objects.find((o) => o.kind === 'Service');
  assert.ok(!selects({ matchLabels: service.spec.selector }, collector.spec.template.metadata.labels));
  // The gateway replicas keep their emptyDir ledgers.
  assert.ok(gateway.spec.template.spec.volumes.find((v: any) => v.name === 'tollbooth-ledger').emptyDir);
});

test('collector.enabled without state: redis is refused with a message', () => {
  assert.throws(() => render({ collector: { enabled: true } }), /collector.enabled needs config.state.mode: redis/);
  assert.equal(render(redis).filter((o) => o.kind === 'Deployment').length, 1, 'off by default');
});
