/**
 * What the standalone release runs as and may talk to (issue 17, items 3–5): the NetworkPolicy
 * (on by default: proxy port from the namespace, ops port from the monitoring namespace, egress to
 * DNS and 443 and never the cloud metadata address), the ServiceAccount (its own, no token,
 * annotations for workload identity), the autoscaler, the disruption budget and the spreading.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadChart, renderChart, type Manifest } from './support/helm.ts';
import { selects } from './support/selectors.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const chart = loadChart(join(ROOT, 'charts/tollbooth'));
const render = (values: Record<string, unknown> = {}) => renderChart(chart, { release: 'tb', namespace: 'llm', values }).manifests;
const all = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.object.kind === kind).map((m) => m.object as any);
const one = (manifests: Manifest[], kind: string) => {
  const found = all(manifests, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};

const METADATA = ['169.254.169.254', 'fd00:ec2::254'];

/** The peers and ports that may reach `port`, across the policy's ingress rules. */
const ingressTo = (policy: any, port: number) => policy.spec.ingress.filter((r: any) => r.ports.some((p: any) => p.port === port));

describe('NetworkPolicy', () => {
  const manifests = render();
  const policy = one(manifests, 'NetworkPolicy');
  const pod = one(manifests, 'Deployment').spec.template;

  test('is on by default, for this release\'s pods, both directions', () => {
    assert.ok(selects(policy.spec.podSelector, pod.metadata.labels));
    assert.ok(!selects(policy.spec.podSelector, { ...pod.metadata.labels, 'app.kubernetes.io/instance': 'other' }), 'not another release\'s pods');
    assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(all(render({ networkPolicy: { enabled: false } }), 'NetworkPolicy').length, 0);
    assert.equal(all(render({ mode: 'sidecar' }), 'NetworkPolicy').length, 0, 'sidecar mode: the app owns its pods\' policy');
  });

  test('the proxy port: the pods of the namespace, or the peers given', () => {
    const rules = ingressTo(policy, 4000);
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].from, [{ podSelector: {} }]);
    const peers = [{ namespaceSelector: { matchLabels: { team: 'shop' } } }];
    assert.deepEqual(ingressTo(one(render({ networkPolicy: { proxy: { from: peers } } }), 'NetworkPolicy'), 4000)[0].from, peers);
  });

  test('the ops port: the monitoring namespace only (the kubelet on the node is always let through)', () => {
    const rules = ingressTo(policy, 4001);
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].from, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    assert.ok(!rules[0].from.some((p: any) => p.podSelector && !p.namespaceSelector), 'not the release\'s own namespace');
    const other = ingressTo(one(render({ networkPolicy: { ops: { monitoringNamespace: 'observability' } } }), 'NetworkPolicy'), 4001)[0];
    assert.equal(other.from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'], 'observability');
    const ports = new Set(policy.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port)));
    assert.deepEqual([...ports].sort(), [4000, 4001], 'no other port is open');
  });

  test('egress: DNS and 443 only, never the cloud metadata address', () => {
    const ports = policy.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.port}/${p.protocol}`)).sort();
    assert.deepEqual(ports, ['443/TCP', '53/TCP', '53/UDP']);
    for (const rule of policy.spec.egress) {
      assert.ok(rule.to?.length > 0, 'every rule names its destinations');
      for (const peer of rule.to.filter((p: any) => p.ipBlock)) {
        const excluded = peer.ipBlock.except ?? [];
        const v6 = peer.ipBlock.cidr.includes(':');
        assert.ok(excluded.includes(v6 ? `${METADATA[1]}/128` : `${METADATA[0]}/32`), `${peer.ipBlock.cidr} leaves out the metadata address`);
      }
    }
    const https = policy.spec.egress.find((r: any) => r.ports.some((p: any) => p.port === 443));
    assert.ok(https.to.every((p: any) => p.ipBlock), '443 only to addresses, with the metadata address left out');
    const extra = { to: [{ podSelector: { matchLabels: { app: 'redis' } } }], ports: [{ port: 6379, protocol: 'TCP' }] };
    assert.deepEqual(one(render({ networkPolicy: { egress: { extra: [extra] } } }), 'NetworkPolicy').spec.egress.at(-1), extra);
  });
});

describe('ServiceAccount', () => {
  test('its own, without a token, annotations for workload identity', () => {
    const manifests = render({ serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/tollbooth' } } });
    const account = one(manifests, 'ServiceAccount');
    const pod = one(manifests, 'Deployment').spec.template.spec;
    assert.equal(pod.serviceAccountName, account.metadata.name);
    assert.equal(account.automountServiceAccountToken, false);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(account.metadata.annotations['eks.amazonaws.com/role-arn'], 'arn:aws:iam::123456789012:role/tollbooth');
  });

  test('an existing account, or the token when a feature needs it', () => {
    const existing = render({ serviceAccount: { create: false, name: 'platform-llm' } });
    assert.equal(all(existing, 'ServiceAccount').length, 0);
    assert.equal(one(existing, 'Deployment').spec.template.spec.serviceAccountName, 'platform-llm');
    assert.equal(one(render({ serviceAccount: { automountServiceAccountToken: true } }), 'Deployment').spec.template.spec.automountServiceAccountToken, true);
  });
});

describe('scaling (standalone)', () => {
  test('an optional CPU autoscaler that owns the replica count', () => {
    assert.equal(all(render(), 'HorizontalPodAutoscaler').length, 0);
    const manifests = render({ standalone: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 12, targetCPUUtilizationPercentage: 60 } } });
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    const deployment = one(manifests, 'Deployment');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 12);
    assert.deepEqual(hpa.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
    assert.equal(deployment.spec.replicas, undefined, 'the autoscaler sets replicas, not each helm upgrade');
    assert.ok(deployment.spec.template.spec.containers[0].resources.requests.cpu, 'CPU utilisation needs a CPU request');
    assert.throws(() => render({ standalone: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } } }), /minReplicas is above maxReplicas/);
  });

  test('the PodDisruptionBudget stays, with or without the autoscaler', () => {
    for (const values of [{}, { standalone: { autoscaling: { enabled: true } } }]) {
      const manifests = render(values);
      const pdb = one(manifests, 'PodDisruptionBudget');
      assert.ok(selects(pdb.spec.selector, one(manifests, 'Deployment').spec.template.metadata.labels));
      assert.equal(pdb.spec.maxUnavailable, 1);
    }
  });

  test('replicas spread over zones and nodes; a constraint without a selector selects this release', () => {
    const pod = one(render(), 'Deployment').spec.template;
    const spread = pod.spec.topologySpreadConstraints;
    assert.deepEqual(spread.map((c: any) => c.topologyKey), ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const c of spread) {
      assert.equal(c.whenUnsatisfiable, 'ScheduleAnyway', 'soft: a single-zone cluster still schedules');
      assert.ok(selects(c.labelSelector, pod.metadata.labels));
      assert.ok(!selects(c.labelSelector, { ...pod.metadata.labels, 'app.kubernetes.io/instance': 'other' }));
    }
    const own = { maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { a: 'b' } } };
    assert.deepEqual(one(render({ standalone: { topologySpreadConstraints: [own] } }), 'Deployment').spec.template.spec.topologySpreadConstraints, [own]);
    assert.equal(one(render({ standalone: { topologySpreadConstraints: [] } }), 'Deployment').spec.template.spec.topologySpreadConstraints, undefined);
  });
});
