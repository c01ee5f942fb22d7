/**
 * charts/tollbooth without helm: values against values.schema.json (ajv, as helm validates them),
 * every template name used is defined, the bundled catalog list matches the catalog, and the chart
 * rendered (test/charts/support/helm.ts) in both modes gives a config the real loader accepts once
 * the ConfigMap is laid out the way the kubelet mounts it. `helm lint`/`helm template` run too when
 * helm is on the PATH.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { coalesce, loadChart, renderChart, schemaErrors, type Manifest } from './support/helm.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHART_DIR = join(ROOT, 'charts/tollbooth');
const chart = loadChart(CHART_DIR);
const schema = chart.schema!;
const defaults = chart.defaults;

const render = (values: Record<string, unknown> = {}) => renderChart(chart, { release: 'tb', namespace: 'llm', values });
const find = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.object.kind === kind);
const one = (manifests: Manifest[], kind: string) => {
  const found = find(manifests, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!.object as any;
};

/**
 * Writes a ConfigMap's data the way the kubelet's atomic writer lays out the volume: each `items`
 * key at its path inside a timestamped directory, `..data` linking to it, and one link per
 * top-level name through `..data` (tollbooth.yaml, catalog). Returns the config file's path.
 */
function layOut(configMap: any, volume: any, mountPath: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-chart-'));
  const version = '..2026_01_01_00_00_00.000000001';
  for (const item of volume.configMap.items) {
    const file = join(dir, version, item.path);
    mkdirSync(dirname(file), { recursive: true });
    assert.ok(item.key in configMap.data, `the ConfigMap has the key ${item.key}`);
    writeFileSync(file, configMap.data[item.key]);
  }
  symlinkSync(version, join(dir, '..data'));
  for (const top of new Set(volume.configMap.items.map((i: any) => i.path.split('/')[0]))) symlinkSync(join('..data', top as string), join(dir, top as string));
  const configArg = args[args.indexOf('--config') + 1]!;
  assert.ok(configArg.startsWith(`${mountPath}/`), 'the config file is on the config volume');
  return join(dir, configArg.slice(mountPath.length + 1));
}

function loadRendered(manifests: Manifest[], podSpec: any, container: any) {
  const configMap = one(manifests, 'ConfigMap');
  const mount = container.volumeMounts.find((m: any) => m.name === 'tollbooth-config');
  const volume = podSpec.volumes.find((v: any) => v.name === 'tollbooth-config');
  const file = layOut(configMap, volume, mount.mountPath, container.args);
  try {
    return loadConfig(file);
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

describe('values.schema.json', () => {
  test('values.yaml is valid', () => {
    assert.deepEqual(schemaErrors(schema, defaults), []);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown mode', { mode: 'daemonset' }, /\/mode must be equal to one of the allowed values/],
    ['a typo at the top level', { replicas: 3 }, /must NOT have additional properties/],
    ['a port that is not a number', { ports: { proxy: '4000x' } }, /\/ports\/proxy must be integer/],
    ['a literal provider key', { config: { credentials: [{ id: 'openai', provider: 'openai', billing: 'managed', secret: 'sk-live-123' }] } }, /\/config\/credentials\/0\/secret/],
    ['a secret reference of another kind', { config: { credentials: [{ id: 'x', provider: 'openai', billing: 'managed', secret: { value: 'sk-1' } }] } }, /\/config\/credentials\/0\/secret/],
    ['listeners set by hand (the chart owns them)', { config: { listeners: { proxy: { port: 1 } } } }, /\/config must NOT be valid/],
    ['a ledger dir set by hand (the chart owns it)', { config: { ledger: { dir: '/data' } } }, /\/config\/ledger must NOT be valid/],
    ['a key stored in clear', { config: { keys: [{ id: 'k', org: 'default', hash: 'tb-plain-key' }] } }, /\/config\/keys\/0\/hash must match pattern/],
    ['a writable root filesystem', { securityContext: { ...(defaults.securityContext as object), readOnlyRootFilesystem: false } }, /readOnlyRootFilesystem must be equal to constant/],
    ['running as root', { podSecurityContext: { runAsNonRoot: false } }, /runAsNonRoot must be equal to constant/],
    ['auth off on a standalone gateway', { config: { auth: { mode: 'none', default_org: 'default' } } }, /\/config\/auth\/mode must be equal to constant/],
    ['a shared ReadWriteOnce ledger claim across replicas', { ledger: { persistence: { enabled: true } }, standalone: { replicas: 2 } }, /\/standalone\/replicas must be <= 1/],
    ['the autoscaler with a ledger claim', { ledger: { persistence: { enabled: true } }, standalone: { replicas: 1, autoscaling: { enabled: true } } }, /\/standalone\/autoscaling\/enabled must be equal to constant/],
    ['a ledger claim in sidecar mode (every app pod writes its own ledger)', { mode: 'sidecar', ledger: { persistence: { enabled: true } } }, /\/ledger\/persistence\/enabled must be equal to constant/],
    ['a ServiceMonitor in sidecar mode (there is no Service)', { mode: 'sidecar', metrics: { monitor: 'ServiceMonitor' } }, /\/metrics\/monitor must be equal to one of the allowed values/],
    ['a PodMonitor in sidecar mode without the app pods\' labels', { mode: 'sidecar', metrics: { monitor: 'PodMonitor' } }, /\/metrics\/podMonitorSelector/],
    ['two scrape mechanisms the old way', { metrics: { serviceMonitor: { enabled: true }, podMonitor: { enabled: true } } }, /\/metrics must NOT have additional properties/],
    ['a NetworkPolicy peer that is not one', { networkPolicy: { proxy: { from: [{ everyone: true }] } } }, /\/networkPolicy\/proxy\/from\/0 must NOT have additional properties/],
    ['a catalog file outside the catalog layout', { catalog: { files: { '../etc/passwd': 'x' } } }, /property name must be valid/],
    ['a pull policy that does not exist', { image: { pullPolicy: 'Sometimes' } }, /\/image\/pullPolicy/],
  ];
  for (const [what, values, message] of bad) {
    test(`rejects ${what}`, () => {
      const errors = schemaErrors(schema, coalesce(defaults, values));
      assert.ok(errors.some((e) => message.test(e)), `expected ${message} in:\n${errors.join('\n')}`);
      assert.throws(() => render(values), /don't meet the specifications of the schema/);
    });
  }

  test('accepts auth off in sidecar mode, where the proxy is on loopback', () => {
    assert.deepEqual(schemaErrors(schema, coalesce(defaults, { mode: 'sidecar', config: { auth: { mode: 'none', default_org: 'default' } } })), []);
  });
});

describe('templates', () => {
  const templateFiles = readdirSync(join(CHART_DIR, 'templates'));
  const sources = [
    ...templateFiles.map((f) => ({ file: `charts/tollbooth/templates/${f}`, src: readFileSync(join(CHART_DIR, 'templates', f), 'utf8') })),
    ...readdirSync(join(ROOT, 'examples/k8s/app-chart/templates')).map((f) => ({
      file: `examples/k8s/app-chart/templates/${f}`,
      src: readFileSync(join(ROOT, 'examples/k8s/app-chart/templates', f), 'utf8'),
    })),
  ];
  const defined = new Map<string, string>();
  for (const { file, src } of sources) {
    for (const [, name] of src.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)) {
      assert.ok(!defined.has(name!), `${name} is defined once`);
      assert.match(file, /\/_[^/]+\.tpl$/, `${name} is defined in a _*.tpl file`);
      defined.set(name!, file);
    }
  }

  test('every include/template name used is defined in a _helpers.tpl', () => {
    const used = sources.flatMap(({ file, src }) => [...src.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)].map((m) => ({ file, name: m[1]! })));
    assert.ok(used.length > 20);
    const undefinedNames = used.filter((u) => !defined.has(u.name)).map((u) => `${u.file}: ${u.name}`);
    assert.deepEqual(undefinedNames, []);
    for (const name of ['tollbooth.sidecar', 'tollbooth.volumes', 'tollbooth.podAnnotations', 'tollbooth.proxyUrl']) {
      assert.equal(defined.get(name), 'charts/tollbooth/templates/_helpers.tpl', `${name}, for app charts`);
    }
  });

  test('the bundled catalog list is the chart\'s catalog directory', () => {
    const listed = /define "tollbooth.bundledCatalog" -\}\}\n([\s\S]*?)\{\{- end/.exec(readFileSync(join(CHART_DIR, 'templates/_helpers.tpl'), 'utf8'))![1]!.trim().split('\n');
    const onDisk = [
      'providers.yaml',
      ...readdirSync(join(CHART_DIR, 'files/catalog/models')).filter((f) => /\.ya?ml$/.test(f)).map((f) => `models/${f}`),
    ].sort();
    assert.deepEqual(listed.sort(), onDisk, 'add or remove the file in tollbooth.bundledCatalog (_helpers.tpl)');
  });

  test('the image tag, the chart appVersion and the package version agree', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(chart.meta.appVersion, pkg.version);
    assert.equal((defaults.image as { tag: string }).tag, pkg.version);
  });
});

describe('rendered', () => {
  test('standalone: a Deployment, Service, PodDisruptionBudget, ServiceAccount and NetworkPolicy whose config the loader accepts', () => {
    const { manifests } = render();
    assert.deepEqual(manifests.map((m) => m.object.kind).sort(), ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    const deployment = one(manifests, 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.restartPolicy, undefined);
    const loaded = loadRendered(manifests, pod, container);
    assert.deepEqual(loaded.config.listeners, { proxy: { host: '0.0.0.0', port: 4000 }, ops: { host: '0.0.0.0', port: 4001 } });
    assert.equal(loaded.config.ledger.dir, container.volumeMounts.find((m: any) => m.name === 'tollbooth-ledger').mountPath);
    const repoCatalog = loadConfig(join(ROOT, 'config/tollbooth.yaml')).catalog;
    assert.equal(loaded.catalog.models.size, repoCatalog.models.size, 'the whole catalog reached the pod');
    assert.equal(loaded.catalog.providers.size, repoCatalog.providers.size);
    assert.deepEqual(
      loaded.config.credentials.map((c) => c.provider).sort(),
      (defaults.config as { credentials: { provider: string }[] }).credentials.map((c) => c.provider).sort(),
    );
  });

  test('sidecar: the chart renders only the ConfigMap; the app chart injects the native sidecar', () => {
    const own = render({ mode: 'sidecar' }).manifests;
    assert.deepEqual(own.map((m) => m.object.kind), ['ConfigMap']);

    const app = renderChart(loadChart(join(ROOT, 'examples/k8s/app-chart')), { release: 'shop', namespace: 'shop' }).manifests;
    const pod = one(app, 'Deployment').spec.template.spec;
    const sidecar = pod.initContainers[0];
    assert.equal(sidecar.name, 'tollbooth');
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.deepEqual(sidecar.startupProbe.httpGet, { path: '/readyz', port: 'tollbooth-ops' });
    assert.equal(one(app, 'ConfigMap').metadata.name, pod.volumes.find((v: any) => v.name === 'tollbooth-config').configMap.name, 'the app chart and the subchart agree on names');
    const loaded = loadRendered(app, pod, sidecar);
    assert.equal(loaded.config.listeners.proxy.host, '127.0.0.1', 'loopback only: the app shares the pod network');
    assert.equal(loaded.config.listeners.ops.host, '0.0.0.0', 'probes and scrapes come from outside the pod');
    assert.equal(loaded.config.auth.mode, 'none');
    const app0 = pod.containers[0];
    assert.equal(app0.env.find((e: any) => e.name === 'OPENAI_BASE_URL').value, `http://127.0.0.1:${loaded.config.listeners.proxy.port}/v1`);
  });

  test('catalog.files adds a file the pod sees as catalog/models/<name>', () => {
    const extra = {
      models: [
        {
          model_id: 'team-llama', name: 'Team Llama', vendor: 'meta', provider: 'openai', upstream_model: 'llama', context_window: 8192,
          quality_score: 50, latency_score: 50, input_usd_per_1m: 0.1, output_usd_per_1m: 0.2, status: 'active',
        },
      ],
    };
    const { manifests } = render({ catalog: { files: { 'models/team.yaml': JSON.stringify(extra) } } });
    const pod = one(manifests, 'Deployment').spec.template.spec;
    assert.ok(pod.volumes[0].configMap.items.some((i: any) => i.path === 'catalog/models/team.yaml'));
    const loaded = loadRendered(manifests, pod, pod.containers[0]);
    assert.equal(loaded.catalog.models.get('team-llama')?.output_usd_per_1m, 0.2);
  });

  test('an empty catalog fails the render with a clear message', () => {
    assert.throws(() => render({ catalog: { bundled: false } }), /the catalog is empty/);
  });

  test('rolloutOnConfigChange puts a checksum of the config on the pod, which changes with it', () => {
    const annotations = (values: Record<string, unknown>) => one(render(values).manifests, 'Deployment').spec.template.metadata.annotations;
    assert.equal(annotations({}), undefined, 'off by default: the ConfigMap is reloaded live');
    const a = annotations({ rolloutOnConfigChange: true })['checksum/tollbooth-config'];
    const b = annotations({ rolloutOnConfigChange: true, config: { log: { level: 'debug' } } })['checksum/tollbooth-config'];
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(a, b);
  });

  test('persistence swaps the ledger emptyDir for a claim the chart keeps on uninstall', () => {
    const { manifests } = render({ ledger: { persistence: { enabled: true } }, standalone: { replicas: 1 } });
    const pvc = one(manifests, 'PersistentVolumeClaim');
    assert.equal(pvc.metadata.annotations['helm.sh/resource-policy'], 'keep');
    const volume = one(manifests, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'tollbooth-ledger');
    assert.deepEqual(volume, { name: 'tollbooth-ledger', persistentVolumeClaim: { claimName: pvc.metadata.name } });
  });

  test('a monitor and the dashboard ConfigMap appear behind their values', () => {
    assert.equal(find(render().manifests, 'ServiceMonitor').length + find(render().manifests, 'PodMonitor').length, 0, 'none by default');
    assert.equal(one(render({ metrics: { monitor: 'PodMonitor' } }).manifests, 'PodMonitor').spec.podMetricsEndpoints[0].port, 'tollbooth-ops');
    const { manifests } = render({ metrics: { monitor: 'ServiceMonitor' }, dashboard: { configMap: { enabled: true } } });
    assert.equal(one(manifests, 'ServiceMonitor').spec.endpoints[0].port, 'ops');
    assert.equal(find(manifests, 'PodMonitor').length, 0);
    const dashboards = find(manifests, 'ConfigMap').filter((m) => m.object.metadata.name.endsWith('-dashboard'));
    assert.equal(dashboards.length, 1);
    const data = (dashboards[0]!.object as any).data['tollbooth.json'];
    assert.deepEqual(JSON.parse(data), JSON.parse(readFileSync(join(CHART_DIR, 'files/dashboard.json'), 'utf8')));
    assert.equal((dashboards[0]!.object as any).metadata.labels.grafana_dashboard, '1');
  });

  test('NOTES.txt warns about missing caller keys and an ephemeral ledger', () => {
    const { notes } = render();
    assert.match(notes, /config\.keys is empty/);
    assert.match(notes, /emptyDir/);
    assert.match(render({ mode: 'sidecar' }).notes, /include "tollbooth.sidecar"/);
  });
});

const helm = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
const hasHelm = helm.status === 0;

describe('workload identity (workloadIdentity values)', () => {
  const ROLE = 'arn:aws:iam::123456789012:role/tollbooth-bedrock';
  const CLIENT = '0e6c4d1a-0000-4000-8000-000000000002';
  const TENANT = '72f988bf-0000-4000-8000-000000000001';
  const identityCredentials = [
    { id: 'bedrock', provider: 'bedrock', billing: 'managed', region: 'us-east-1', identity: { kind: 'aws_workload_identity' } },
    { id: 'azure', provider: 'azure', billing: 'managed', base_url: 'https://shop.openai.azure.com/openai', api_version: '2024-10-21', identity: { kind: 'azure_workload_identity' } },
  ];
  const podIdentityRule = (policy: any) => policy.spec.egress.find((r: any) => r.ports.some((p: any) => p.port === 80));

  test('off by default: no identity annotations, no webhook label, no path to the Pod Identity agent, no token', () => {
    const { manifests } = render();
    const account = one(manifests, 'ServiceAccount');
    assert.equal(account.metadata.annotations, undefined);
    assert.equal(account.automountServiceAccountToken, false);
    assert.equal(one(manifests, 'Deployment').spec.template.spec.automountServiceAccountToken, false);
    assert.equal(one(manifests, 'Deployment').spec.template.metadata.labels['azure.workload.identity/use'], undefined);
    assert.equal(podIdentityRule(one(manifests, 'NetworkPolicy')), undefined);
  });

  test('IRSA, EKS Pod Identity and Azure workload identity: annotations, label, egress to the agent; the config with identity credentials loads', () => {
    const { manifests } = render({
      workloadIdentity: { aws: { roleArn: ROLE, podIdentity: true }, azure: { enabled: true, clientId: CLIENT, tenantId: TENANT } },
      serviceAccount: { annotations: { 'example.com/owner': 'platform' } },
      config: { credentials: identityCredentials },
    });
    const account = one(manifests, 'ServiceAccount');
    assert.deepEqual(account.metadata.annotations, {
      'example.com/owner': 'platform',
      'eks.amazonaws.com/role-arn': ROLE,
      'azure.workload.identity/client-id': CLIENT,
      'azure.workload.identity/tenant-id': TENANT,
    });
    const deployment = one(manifests, 'Deployment');
    const pod = deployment.spec.template;
    assert.equal(pod.metadata.labels['azure.workload.identity/use'], 'true');
    assert.ok(!('azure.workload.identity/use' in deployment.spec.selector.matchLabels), 'the selector (immutable) is unchanged');
    assert.equal(pod.spec.automountServiceAccountToken, false, 'the webhooks mount their own projected tokens');
    const policy = one(manifests, 'NetworkPolicy');
    assert.deepEqual(podIdentityRule(policy), {
      to: [{ ipBlock: { cidr: '169.254.170.23/32' } }, { ipBlock: { cidr: 'fd00:ec2::23/128' } }],
      ports: [{ port: 80, protocol: 'TCP' }],
    });
    const https = policy.spec.egress.find((r: any) => r.ports.some((p: any) => p.port === 443));
    assert.ok(https.to.some((p: any) => p.ipBlock?.except?.includes('169.254.169.254/32')), 'the metadata address stays closed');
    const loaded = loadRendered(manifests, pod.spec, pod.spec.containers[0]);
    assert.deepEqual(
      loaded.config.credentials.map((c) => [c.id, c.identity?.kind, c.secret]),
      [['bedrock', 'aws_workload_identity', null], ['azure', 'azure_workload_identity', null]],
    );
  });

  test('the values schema refuses a malformed role ARN or client id, and a secret beside an identity', () => {
    assert.match(schemaErrors(schema, coalesce(defaults, { workloadIdentity: { aws: { roleArn: 'tollbooth-role' } } })).join('\n'), /\/workloadIdentity\/aws\/roleArn/);
    assert.match(schemaErrors(schema, coalesce(defaults, { workloadIdentity: { azure: { clientId: 'my app' } } })).join('\n'), /\/workloadIdentity\/azure\/clientId/);
    const both = { config: { credentials: [{ id: 'b', provider: 'bedrock', billing: 'managed', secret: { env: 'X' }, identity: { kind: 'aws_workload_identity' } }] } };
    assert.match(schemaErrors(schema, coalesce(defaults, both)).join('\n'), /\/config\/credentials\/0/);
    const unknown = { config: { credentials: [{ id: 'b', provider: 'bedrock', billing: 'managed', identity: { kind: 'gcp' } }] } };
    assert.match(schemaErrors(schema, coalesce(defaults, unknown)).join('\n'), /\/config\/credentials\/0\/identity/);
  });
});

describe(hasHelm ? 'helm' : 'helm (skipped: helm is not on the PATH)', () => {
  test(hasHelm ? 'helm lint passes in both modes' : 'helm lint (skipped: helm is not on the PATH)', { skip: !hasHelm && 'helm is not on the PATH' }, () => {
    for (const mode of ['standalone', 'sidecar']) {
      const lint = spawnSync('helm', ['lint', CHART_DIR, '--strict', '--set', `mode=${mode}`], { encoding: 'utf8' });
      assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    }
  });
  test(hasHelm ? 'helm template gives the same objects as this renderer' : 'helm template (skipped: helm is not on the PATH)', { skip: !hasHelm && 'helm is not on the PATH' }, () => {
    const out = spawnSync('helm', ['template', 'tb', CHART_DIR, '--namespace', 'llm'], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const fromHelm = out.stdout.split(/^---$/m).map((d) => parseYaml(d)).filter(Boolean);
    assert.deepEqual(
      fromHelm.map((o: any) => `${o.kind}/${o.metadata.name}`).sort(),
      render().manifests.map((m) => `${m.object.kind}/${m.object.metadata.name}`).sort(),
    );
    for (const o of fromHelm as any[]) {
      const mine = render().manifests.find((m) => m.object.kind === o.kind && m.object.metadata.name === o.metadata.name)!;
      assert.deepEqual(o, mine.object, `${o.kind}/${o.metadata.name}`);
    }
  });
});
