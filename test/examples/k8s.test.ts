/**
 * examples/k8s: the manifests are what the chart renders today (`npm run examples:k8s` rewrites
 * them), each object validates as a Kubernetes object (kubernetes-models, plus a check for fields
 * the API does not know), and they hold what running Tollbooth on Kubernetes needs: hardened
 * containers, probes on the ops port, the native sidecar, the config mounted as a directory.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { renderExamples } from '../../examples/k8s/render.ts';

const DIR = new URL('../../examples/k8s/', import.meta.url);
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ServiceAccount': ServiceAccount,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

function objects(text: string): any[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** Catalog contents change with every price edit; the examples only have to carry the same files. */
function masked(list: any[]): any[] {
  return list.map((o) =>
    o.kind === 'ConfigMap' && o.data
      ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, k.startsWith('catalog--') ? '<catalog file>' : v])) }
      : o,
  );
}

/**
 * The properties a kubernetes-models type knows, read from its compiled validator (each optional
 * property is checked as `void 0===data.<name>`): kubernetes-models accepts unknown fields, the API
 * server's strict field validation does not.
 */
function knownFields(schema: string): Set<string> {
  const path = new URL(`../../node_modules/kubernetes-models/_schemas/${schema}.mjs`, import.meta.url);
  const code = readFileSync(path, 'utf8');
  // The exported validator comes first; the helpers it calls (other types' fields) follow it.
  const start = code.indexOf('function validate');
  const main = code.slice(start, code.indexOf('function validate', start + 1));
  return new Set([...main.matchAll(/\bdata\.(\w+)/g)].map((m) => m[1]!));
}
const FIELDS = {
  container: knownFields('IoK8sApiCoreV1Container'),
  pod: knownFields('IoK8sApiCoreV1PodSpec'),
  securityContext: knownFields('IoK8sApiCoreV1SecurityContext'),
  probe: knownFields('IoK8sApiCoreV1Probe'),
  volume: knownFields('IoK8sApiCoreV1Volume'),
};

function unknownFields(kind: keyof typeof FIELDS, object: Record<string, unknown>, where: string): string[] {
  return Object.keys(object)
    .filter((k) => !FIELDS[kind].has(k))
    .map((k) => `${where}.${k}`);
}

const rendered = renderExamples();
const files = [...rendered.keys()];
const load = (file: string) => objects(readFileSync(new URL(file, DIR), 'utf8'));
const deploymentOf = (file: string) => load(file).find((o) => o.kind === 'Deployment');

describe('examples/k8s', () => {
  test('hold the standalone, the many-replicas and the sidecar installs', () => {
    assert.deepEqual(files.sort(), ['replicas-redis.yaml', 'sidecar.yaml', 'standalone.yaml']);
  });

  for (const file of files) {
    test(`${file} is what the chart renders now (else run: npm run examples:k8s)`, () => {
      const onDisk = readFileSync(new URL(file, DIR), 'utf8');
      assert.deepEqual(masked(objects(onDisk)), masked(objects(rendered.get(file)!)));
    });

    test(`${file}: every object validates as a Kubernetes object`, () => {
      const list = load(file);
      assert.ok(list.length >= 2);
      for (const o of list) {
        const where = `${o.kind}/${o.metadata.name}`;
        assert.equal(typeof o.metadata.namespace, 'string', `${where} names its namespace`);
        if (o.apiVersion === 'monitoring.coreos.com/v1') continue;
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        assert.ok(Model, `a model for ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new Model(o).validate(), where);
      }
    });

    test(`${file}: the pod spec uses only fields the Kubernetes API knows`, () => {
      assert.ok(FIELDS.container.has('restartPolicy') && FIELDS.container.has('startupProbe') && FIELDS.pod.has('initContainers'));
      const unknown: string[] = [];
      // Every Deployment's pod: the gateway's, and the ledger collector's where there is one.
      for (const deployment of load(file).filter((o) => o.kind === 'Deployment')) {
        const pod = deployment.spec.template.spec;
        unknown.push(...unknownFields('pod', pod, 'spec'));
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          unknown.push(...unknownFields('container', c, c.name));
          if (c.securityContext) unknown.push(...unknownFields('securityContext', c.securityContext, `${c.name}.securityContext`));
          for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) if (c[p]) unknown.push(...unknownFields('probe', c[p], `${c.name}.${p}`));
        }
        for (const v of pod.volumes) unknown.push(...unknownFields('volume', v, `volume ${v.name}`));
      }
      assert.deepEqual(unknown, []);
    });

    test(`${file}: Tollbooth runs non-root, read-only, without capabilities, under RuntimeDefault seccomp`, () => {
      const pod = deploymentOf(file).spec.template.spec;
      const tollbooth = [...(pod.initContainers ?? []), ...pod.containers].find((c: any) => c.name === 'tollbooth');
      const sc = tollbooth.securityContext;
      assert.equal(sc.runAsNonRoot, true);
      assert.ok(sc.runAsUser > 0);
      assert.equal(sc.readOnlyRootFilesystem, true);
      assert.equal(sc.allowPrivilegeEscalation, false);
      assert.deepEqual(sc.capabilities.drop, ['ALL']);
      assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
      assert.equal(pod.automountServiceAccountToken, false);
      assert.ok(tollbooth.resources?.requests?.memory && tollbooth.resources?.limits?.memory, 'memory requests and limits');
    });

    test(`${file}: probes hit /healthz and /readyz on the ops port the config listens on`, () => {
      const list = load(file);
      const pod = list.find((o) => o.kind === 'Deployment').spec.template.spec;
      const tollbooth = [...(pod.initContainers ?? []), ...pod.containers].find((c: any) => c.name === 'tollbooth');
      const config = parseYaml(list.find((o) => o.kind === 'ConfigMap' && o.data['tollbooth.yaml']).data['tollbooth.yaml']);
      const ops = tollbooth.ports.find((p: any) => p.name === 'tollbooth-ops');
      assert.equal(ops.containerPort, config.listeners.ops.port);
      assert.equal(config.listeners.ops.host, '0.0.0.0', 'the kubelet probes the pod IP');
      assert.deepEqual(tollbooth.livenessProbe.httpGet, { path: '/healthz', port: 'tollbooth-ops' });
      assert.deepEqual(tollbooth.readinessProbe.httpGet, { path: '/readyz', port: 'tollbooth-ops' });
      assert.deepEqual(tollbooth.startupProbe.httpGet, { path: '/readyz', port: 'tollbooth-ops' });
    });

    test(`${file}: the config and catalog are one ConfigMap mounted as a directory (no subPath), the ledger on its own volume`, () => {
      const list = load(file);
      const pod = list.find((o) => o.kind === 'Deployment').spec.template.spec;
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const m of c.volumeMounts ?? []) assert.equal(m.subPath, undefined, `${c.name} mounts ${m.name} without subPath`);
      }
      const tollbooth = [...(pod.initContainers ?? []), ...pod.containers].find((c: any) => c.name === 'tollbooth');
      const mount = tollbooth.volumeMounts.find((m: any) => m.name === 'tollbooth-config');
      assert.equal(mount.mountPath, '/etc/tollbooth');
      assert.equal(mount.readOnly, true);
      assert.deepEqual(tollbooth.args, ['serve', '--config', '/etc/tollbooth/tollbooth.yaml']);
      const volume = pod.volumes.find((v: any) => v.name === 'tollbooth-config');
      const configMap = list.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name);
      assert.ok(configMap, 'the ConfigMap the volume names is in the same file');
      assert.deepEqual(volume.configMap.items.map((i: any) => i.key).sort(), Object.keys(configMap.data).sort(), 'every key is mounted');
      const config = parseYaml(configMap.data['tollbooth.yaml']);
      assert.equal(config.catalog, './catalog');
      assert.ok(volume.configMap.items.some((i: any) => i.path === 'catalog/providers.yaml'));
      const ledger = tollbooth.volumeMounts.find((m: any) => m.name === 'tollbooth-ledger');
      assert.equal(ledger.mountPath, config.ledger.dir, 'the ledger is written to its volume');
      assert.ok(ledger.readOnly !== true);
      assert.ok(pod.volumes.find((v: any) => v.name === 'tollbooth-ledger').emptyDir);
      assert.ok(tollbooth.volumeMounts.some((m: any) => m.mountPath === '/tmp'));
      for (const secretMount of tollbooth.volumeMounts.filter((m: any) => m.name.startsWith('tollbooth-secret-'))) {
        assert.equal(secretMount.readOnly, true);
        const secretVolume = pod.volumes.find((v: any) => v.name === secretMount.name);
        assert.ok(secretVolume.secret.secretName);
        for (const c of config.credentials.filter((x: any) => x.secret?.file?.startsWith(secretMount.mountPath))) {
          assert.ok(c.secret.file.slice(secretMount.mountPath.length + 1).length > 0, `${c.id} reads a key of the mounted Secret`);
        }
      }
    });
  }

  test('sidecar.yaml: Tollbooth is a native sidecar (restartable init container) the app waits for', () => {
    const list = load('sidecar.yaml');
    const deployment = list.find((o) => o.kind === 'Deployment');
    const pod = deployment.spec.template.spec;
    assert.equal(pod.initContainers.length, 1);
    const [sidecar] = pod.initContainers;
    assert.equal(sidecar.name, 'tollbooth');
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.ok(sidecar.startupProbe, 'the app starts once the startup probe passes');
    assert.ok(!sidecar.ports.some((p: any) => p.name === 'tollbooth'), 'the proxy port is loopback-only, not declared');
    const app = pod.containers.find((c: any) => c.name === 'app');
    const config = parseYaml(list.find((o) => o.kind === 'ConfigMap').data['tollbooth.yaml']);
    assert.equal(config.listeners.proxy.host, '127.0.0.1');
    assert.equal(app.env.find((e: any) => e.name === 'OPENAI_BASE_URL').value, `http://127.0.0.1:${config.listeners.proxy.port}/v1`);
    const monitor = list.find((o) => o.kind === 'PodMonitor');
    assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e: any) => e.port), ['tollbooth-ops']);
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) assert.equal(deployment.spec.template.metadata.labels[k], v, 'the PodMonitor selects the app pods');
    assert.equal(monitor.spec.selector.matchLabels['app.kubernetes.io/instance'], deployment.metadata.name, 'this release\'s pods only');
    assert.equal(list.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor').length, 1, 'one scrape mechanism');
    const policy = list.find((o) => o.kind === 'NetworkPolicy');
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) assert.equal(deployment.spec.template.metadata.labels[k], v, 'the app\'s policy selects its pods');
    const opsPort = sidecar.ports.find((p: any) => p.name === 'tollbooth-ops').containerPort;
    assert.ok(policy.spec.ingress.some((r: any) => r.ports.some((p: any) => p.port === opsPort)), 'and lets the monitoring namespace reach the ops port');
    assert.equal(list.filter((o) => o.kind === 'Service').length, 0, 'no Service: the app reaches its own sidecar');
  });

  test('standalone.yaml: Service, PodDisruptionBudget and ServiceMonitor select the Deployment\'s pods and ports', () => {
    const list = load('standalone.yaml');
    const deployment = list.find((o) => o.kind === 'Deployment');
    const podLabels = deployment.spec.template.metadata.labels;
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.restartPolicy, undefined);
    const portNames = new Set(container.ports.map((p: any) => p.name));
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);

    const service = list.find((o) => o.kind === 'Service');
    assert.ok(selects(service.spec.selector));
    for (const p of service.spec.ports) assert.ok(portNames.has(p.targetPort), `service port ${p.name} targets a container port`);
    const pdb = list.find((o) => o.kind === 'PodDisruptionBudget');
    assert.ok(selects(pdb.spec.selector.matchLabels));
    const hpa = list.find((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(deployment.spec.replicas, undefined, 'the autoscaler owns the replica count');
    assert.ok(hpa.spec.minReplicas > 1 && pdb.spec.maxUnavailable >= 1);
    for (const c of deployment.spec.template.spec.topologySpreadConstraints) assert.ok(selects(c.labelSelector.matchLabels));
    const policy = list.find((o) => o.kind === 'NetworkPolicy');
    assert.ok(selects(policy.spec.podSelector.matchLabels));
    assert.equal(deployment.spec.template.spec.serviceAccountName, list.find((o) => o.kind === 'ServiceAccount').metadata.name);
    assert.equal(list.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor').length, 1, 'one scrape mechanism');
    const monitor = list.find((o) => o.kind === 'ServiceMonitor');
    assert.ok(selects(monitor.spec.selector.matchLabels) || Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v));
    assert.ok(service.spec.ports.some((p: any) => p.name === monitor.spec.endpoints[0].port));

    const config = parseYaml(list.find((o) => o.kind === 'ConfigMap' && o.data['tollbooth.yaml']).data['tollbooth.yaml']);
    assert.equal(config.listeners.proxy.host, '0.0.0.0');
    assert.equal(config.auth.mode, 'keys', 'a gateway on the network authenticates its callers');
    assert.match(deployment.spec.template.metadata.annotations['checksum/tollbooth-config'], /^[0-9a-f]{64}$/, 'rolloutOnConfigChange: a checksum annotation');
    assert.ok(container.lifecycle.preStop.exec.command[0] === 'sleep', 'a preStop pause lets endpoints drain before SIGTERM');
    const dashboard = list.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'));
    assert.equal(dashboard.metadata.labels.grafana_dashboard, '1');
    assert.ok(JSON.parse(dashboard.data['tollbooth.json']).templating.list.some((v: any) => v.name === 'datasource'));
  });
});
