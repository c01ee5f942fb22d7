/**
 * One scrape per install (issue 17, item 2): the chart rendered in every combination of mode ×
 * ledger persistence × monitor. Each combination either is refused by values.schema.json with a
 * message saying why, or renders exactly one monitor (or none) whose selector picks this release's
 * pods and nothing else in the namespace — not a canary release of the same app, not another
 * Tollbooth — on a port those pods declare. The same render checks the rollout strategy (Recreate
 * on a ledger claim), the PrometheusRule, and that every object validates as a Kubernetes object.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse as parseYaml } from 'yaml';
import { loadChart, renderChart, type Manifest } from './support/helm.ts';
import { selects } from './support/selectors.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const chart = loadChart(join(ROOT, 'charts/tollbooth'));
const appChart = loadChart(join(ROOT, 'examples/k8s/app-chart'));
const ALERTS = parseYaml(readFileSync(join(ROOT, 'charts/tollbooth/files/alerts.yaml'), 'utf8'));
const NAMESPACE = 'shop';

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

interface Pod {
  owner: string;
  labels: Record<string, string>;
  ports: string[];
}

/** The install as the cluster would hold it: the release's objects plus the pods they would run. */
function install(mode: 'standalone' | 'sidecar', release: string, tollbooth: Record<string, unknown>): { manifests: Manifest[]; pods: Pod[] } {
  const manifests =
    mode === 'standalone'
      ? renderChart(chart, { release, namespace: NAMESPACE, values: tollbooth }).manifests
      : renderChart(appChart, { release, namespace: NAMESPACE, values: { tollbooth } }).manifests;
  const pods = manifests
    .filter((m) => m.object.kind === 'Deployment')
    .map((m) => {
      const template = (m.object as any).spec.template;
      const containers = [...(template.spec.initContainers ?? []), ...template.spec.containers];
      return { owner: `${release}/${m.object.metadata.name}`, labels: template.metadata.labels, ports: containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name)) };
    });
  return { manifests, pods };
}

const kinds = (manifests: Manifest[], ...wanted: string[]) => manifests.filter((m) => wanted.includes(m.object.kind)).map((m) => m.object as any);

const MODES = ['standalone', 'sidecar'] as const;
const PERSISTENCE = [false, true];
const MONITORS = ['none', 'ServiceMonitor', 'PodMonitor'] as const;

/** Why a combination is refused, or null when it renders. */
function refusal(mode: string, persistence: boolean, monitor: string): RegExp | null {
  if (mode === 'sidecar' && persistence) return /\/ledger\/persistence\/enabled must be equal to constant/;
  if (mode === 'sidecar' && monitor === 'ServiceMonitor') return /\/metrics\/monitor must be equal to one of the allowed values/;
  return null;
}

describe('every combination of mode × persistence × monitor', () => {
  for (const mode of MODES) {
    for (const persistence of PERSISTENCE) {
      for (const monitor of MONITORS) {
        const name = `${mode}, ${persistence ? 'ledger on a claim' : 'ledger on emptyDir'}, monitor ${monitor}`;
        const values = (extra: Record<string, unknown> = {}) => ({
          mode,
          ledger: { persistence: { enabled: persistence } },
          ...(mode === 'standalone' ? { standalone: { replicas: persistence ? 1 : 2 } } : {}),
          metrics: {
            monitor,
            prometheusRule: { enabled: monitor !== 'none' },
            ...(mode === 'sidecar' ? { podMonitorSelector: { matchLabels: { 'app.kubernetes.io/name': 'shop-assistant' } } } : {}),
          },
          ...extra,
        });
        const refused = refusal(mode, persistence, monitor);
        if (refused) {
          test(`${name}: refused, saying why`, () => {
            assert.throws(() => install(mode, 'shop', values()), refused);
          });
          continue;
        }
        test(`${name}: renders valid objects, with at most one monitor selecting only this release's pods`, () => {
          const mine = install(mode, 'shop', values());
          // Neighbours in the same namespace: a canary release of the same thing, and a Tollbooth of another team.
          const canary = install(mode, 'shop-canary', values());
          const other = install('standalone', 'search-tollbooth', { metrics: { monitor: 'PodMonitor' } });
          const namespacePods = [...mine.pods, ...canary.pods, ...other.pods];
          assert.ok(mine.pods.length === 1 && canary.pods.length === 1);

          for (const m of mine.manifests) {
            const o = m.object as any;
            assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name} names its namespace`);
            const Model = MODELS[`${o.apiVersion}/${o.kind}`];
            if (Model) assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`);
            else assert.equal(o.apiVersion, 'monitoring.coreos.com/v1', `a model for ${o.apiVersion} ${o.kind}`);
          }

          const monitors = kinds(mine.manifests, 'ServiceMonitor', 'PodMonitor');
          assert.equal(monitors.length, monitor === 'none' ? 0 : 1, 'one scrape mechanism at most');
          if (monitor !== 'none') {
            const [m] = monitors;
            assert.equal(m.kind, monitor);
            assert.deepEqual(m.spec.namespaceSelector, { matchNames: [NAMESPACE] });
            let scraped: Pod[];
            if (m.kind === 'PodMonitor') {
              assert.ok(Object.keys(m.spec.selector.matchLabels ?? {}).length > 0, 'never an empty selector');
              scraped = namespacePods.filter((p) => selects(m.spec.selector, p.labels) && m.spec.podMetricsEndpoints.every((e: any) => p.ports.includes(e.port)));
            } else {
              const services = [...kinds(mine.manifests, 'Service'), ...kinds(canary.manifests, 'Service'), ...kinds(other.manifests, 'Service')];
              const matched = services.filter((s) => selects(m.spec.selector, s.metadata.labels));
              assert.equal(matched.length, 1, 'the ServiceMonitor selects one Service');
              assert.ok(matched[0].spec.ports.some((p: any) => p.name === m.spec.endpoints[0].port), 'on a port the Service has');
              scraped = namespacePods.filter((p) => selects({ matchLabels: matched[0].spec.selector }, p.labels));
              for (const p of scraped) {
                const target = matched[0].spec.ports.find((x: any) => x.name === m.spec.endpoints[0].port).targetPort;
                assert.ok(p.ports.includes(target), 'the Service port targets a port the pods declare');
              }
            }
            assert.deepEqual(scraped.map((p) => p.owner), mine.pods.map((p) => p.owner), 'exactly this release\'s pods');
          }

          const rules = kinds(mine.manifests, 'PrometheusRule');
          assert.equal(rules.length, monitor === 'none' ? 0 : 1);
          if (rules.length === 1) assert.deepEqual(rules[0].spec, ALERTS, 'the PrometheusRule carries files/alerts.yaml');

          const deployment = kinds(mine.manifests, 'Deployment')[0];
          if (mode === 'standalone') {
            if (persistence) {
              assert.deepEqual(deployment.spec.strategy, { type: 'Recreate' }, 'a ReadWriteOnce claim: the old pod lets go before the new one mounts');
              assert.equal(deployment.spec.replicas, 1);
              assert.ok(kinds(mine.manifests, 'PersistentVolumeClaim').length === 1);
            } else {
              assert.deepEqual(deployment.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
            }
          }
        });
      }
    }
  }

  test('the tollbooth chart alone in sidecar mode: the PodMonitor adds the release to the app labels given', () => {
    const { manifests } = renderChart(chart, {
      release: 'shop',
      namespace: NAMESPACE,
      values: { mode: 'sidecar', metrics: { monitor: 'PodMonitor', podMonitorSelector: { matchLabels: { app: 'shop' } } } },
    });
    assert.deepEqual(kinds(manifests, 'PodMonitor')[0].spec.selector, { matchLabels: { app: 'shop', 'app.kubernetes.io/instance': 'shop' } });
    const own = renderChart(chart, {
      release: 'llm-config',
      namespace: NAMESPACE,
      values: { mode: 'sidecar', metrics: { monitor: 'PodMonitor', podMonitorSelector: { matchLabels: { app: 'shop', 'app.kubernetes.io/instance': 'shop' } } } },
    }).manifests;
    assert.equal(kinds(own, 'PodMonitor')[0].spec.selector.matchLabels['app.kubernetes.io/instance'], 'shop', 'an instance label given is kept');
  });
});
