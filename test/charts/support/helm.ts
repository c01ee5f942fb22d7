/**
 * `helm template` for this repository's charts, on gotemplate.ts: loads a chart and its file://
 * dependencies, coalesces values as helm does (a subchart's defaults appear under the parent's
 * `.Values.<name>`), validates each chart's values against its values.schema.json, renders every
 * template (files starting with `_` only define templates) and NOTES.txt.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { helmFunctions } from './functions.ts';
import { Engine, TemplateError, type Value } from './gotemplate.ts';

type Dict = Record<string, Value>;

export interface Chart {
  dir: string;
  meta: Dict & { name: string; version: string; appVersion?: string; dependencies?: Dict[] };
  defaults: Dict;
  schema: object | null;
  templates: { file: string; src: string }[];
  dependencies: Chart[];
}

export interface Manifest {
  /** e.g. tollbooth/templates/deployment.yaml */
  source: string;
  /** The document as rendered. */
  text: string;
  object: Dict & { kind: string; apiVersion: string; metadata: Dict & { name: string } };
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** User values (what `-f values.yaml` would give). */
  values?: Dict;
}

export function loadChart(dir: string): Chart {
  const meta = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Chart['meta'];
  const templatesDir = join(dir, 'templates');
  const templates = readdirSync(templatesDir)
    .sort()
    .map((file) => ({ file, src: readFileSync(join(templatesDir, file), 'utf8') }));
  const schemaFile = join(dir, 'values.schema.json');
  const dependencies = (meta.dependencies ?? []).map((d) => {
    const repo = String(d.repository ?? '');
    if (!repo.startsWith('file://')) throw new Error(`${dir}: only file:// dependencies can be rendered here (${repo})`);
    return loadChart(resolve(dir, repo.slice('file://'.length)));
  });
  return {
    dir,
    meta,
    defaults: (parseYaml(readFileSync(join(dir, 'values.yaml'), 'utf8')) ?? {}) as Dict,
    schema: existsSync(schemaFile) ? (JSON.parse(readFileSync(schemaFile, 'utf8')) as object) : null,
    templates,
    dependencies,
  };
}

const isDict = (v: Value): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

/** helm's coalescing: user values win, maps merge deeply, a null removes a default. */
export function coalesce(defaults: Dict, user: Dict): Dict {
  const out: Dict = structuredClone(defaults);
  for (const [k, v] of Object.entries(user)) {
    if (v === null) delete out[k];
    else if (isDict(v) && isDict(out[k])) out[k] = coalesce(out[k] as Dict, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/** Validates values against a chart's values.schema.json; returns ajv's messages. */
const compiled = new WeakMap<object, ReturnType<Ajv['compile']>>();

export function schemaErrors(schema: object, values: Dict): string[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(values)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

// helm's install order (pkg/releaseutil/kind_sorter.go), which `helm template` prints in.
const INSTALL_ORDER = [
  'Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget', 'ServiceAccount',
  'Secret', 'SecretList', 'ConfigMap', 'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim', 'CustomResourceDefinition',
  'ClusterRole', 'ClusterRoleList', 'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role', 'RoleList', 'RoleBinding',
  'RoleBindingList', 'Service', 'DaemonSet', 'Pod', 'ReplicationController', 'ReplicaSet', 'Deployment',
  'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService',
];

export function renderChart(chart: Chart, options: RenderOptions = {}): { manifests: Manifest[]; notes: string } {
  const release = { Name: options.release ?? 'release-name', Namespace: options.namespace ?? 'default', Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 };
  const engine = new Engine(helmFunctions);
  const jobs: { chart: Chart; values: Dict; prefix: string; nodes: ReturnType<Engine['add']>; file: string }[] = [];
  let notes = '';

  const values = prepare(chart, options.values ?? {}, chart.meta.name);
  const visit = (c: Chart, v: Dict, prefix: string) => {
    for (const dep of c.dependencies) visit(dep, v[dep.meta.name] as Dict, `${prefix}/charts/${dep.meta.name}`);
    for (const t of c.templates) {
      const nodes = engine.add(t.src, `${prefix}/templates/${t.file}`);
      if (!t.file.startsWith('_')) jobs.push({ chart: c, values: v, prefix, nodes, file: t.file });
    }
  };
  visit(chart, values, chart.meta.name);

  const manifests: Manifest[] = [];
  for (const job of jobs) {
    const data = {
      Values: job.values,
      Release: release,
      Chart: chartObject(job.chart),
      Files: files(job.chart.dir),
      Capabilities: { KubeVersion: { Version: 'v1.31.0', Major: '1', Minor: '31' }, APIVersions: { Has: () => false } },
      Template: { Name: `${job.prefix}/templates/${job.file}`, BasePath: `${job.prefix}/templates` },
    };
    let text: string;
    try {
      text = engine.execute(job.nodes, data);
    } catch (err) {
      if (err instanceof TemplateError) throw new TemplateError(`${job.prefix}/templates/${job.file}: ${err.message}`);
      throw err;
    }
    if (job.file === 'NOTES.txt') {
      if (job.chart === chart) notes = text;
      continue;
    }
    for (const doc of text.split(/^---[ \t]*$/m)) {
      const trimmed = doc.replace(/^\s*\n/, '').replace(/\s+$/, '');
      const [parsed] = parseAllDocuments(trimmed);
      if (trimmed === '' || (parsed && parsed.errors.length === 0 && parsed.contents === null)) continue;
      if (!parsed || parsed.errors.length > 0) {
        throw new Error(`${job.prefix}/templates/${job.file}: invalid YAML: ${parsed?.errors[0]?.message}\n${trimmed}`);
      }
      const object = parsed.toJS() as Manifest['object'] | null;
      if (object === null) continue;
      manifests.push({ source: `${job.prefix}/templates/${job.file}`, text: trimmed, object });
    }
  }
  const rank = (kind: string) => {
    const i = INSTALL_ORDER.indexOf(kind);
    return i === -1 ? INSTALL_ORDER.length : i;
  };
  manifests.sort((a, b) => rank(a.object.kind) - rank(b.object.kind) || a.object.metadata.name.localeCompare(b.object.metadata.name));
  return { manifests, notes };
}

/** Coalesced, schema-checked values of a chart and (under their names) its dependencies. */
function prepare(chart: Chart, user: Dict, path: string): Dict {
  const values = coalesce(chart.defaults, user);
  for (const dep of chart.dependencies) {
    values[dep.meta.name] = prepare(dep, { ...((values[dep.meta.name] as Dict) ?? {}), global: values.global ?? {} }, `${path}.${dep.meta.name}`);
  }
  if (chart.schema) {
    const errors = schemaErrors(chart.schema, values);
    if (errors.length > 0) throw new Error(`values don't meet the specifications of the schema(s) in ${path}:\n${errors.join('\n')}`);
  }
  return values;
}

function chartObject(chart: Chart): Dict {
  const m = chart.meta;
  return { Name: m.name, Version: m.version, AppVersion: m.appVersion ?? '', Description: m.description ?? '', Type: m.type ?? 'application' };
}

function files(dir: string): Dict {
  return {
    Get: (path: Value) => {
      const file = join(dir, String(path));
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
  };
}

/** The manifests as `helm template` prints them. */
export function manifestStream(manifests: Manifest[]): string {
  return manifests.map((m) => `---\n# Source: ${m.source}\n${m.text}\n`).join('');
}
