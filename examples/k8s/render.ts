/**
 * Renders examples/k8s/*.yaml from the chart, as `helm template` would (helm is not needed: see
 * test/charts/support/helm.ts). Run `npm run examples:k8s` after changing the chart or these values;
 * test/examples/k8s.test.ts fails while the files are out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadChart, manifestStream, renderChart } from '../../test/charts/support/helm.ts';

const here = (path: string) => new URL(path, import.meta.url).pathname;

export const EXAMPLES = [
  {
    file: 'standalone.yaml',
    what: 'charts/tollbooth with standalone.values.yaml (release tollbooth, namespace llm-gateway)',
    render: () => renderChart(loadChart(here('../../charts/tollbooth')), {
      release: 'tollbooth',
      namespace: 'llm-gateway',
      values: parse(readFileSync(here('standalone.values.yaml'), 'utf8')),
    }),
  },
  {
    file: 'replicas-redis.yaml',
    what: 'charts/tollbooth with replicas-redis.values.yaml (release tollbooth, namespace llm-gateway)',
    render: () => renderChart(loadChart(here('../../charts/tollbooth')), {
      release: 'tollbooth',
      namespace: 'llm-gateway',
      values: parse(readFileSync(here('replicas-redis.values.yaml'), 'utf8')),
    }),
  },
  {
    file: 'sidecar.yaml',
    what: 'app-chart/, an app chart that injects Tollbooth as a native sidecar (release shop-assistant, namespace shop)',
    render: () => renderChart(loadChart(here('app-chart')), { release: 'shop-assistant', namespace: 'shop' }),
  },
] as const;

/** The text of each example file, as rendered from the chart now. */
export function renderExamples(): Map<string, string> {
  return new Map(
    EXAMPLES.map((e) => [
      e.file,
      `# Rendered from ${e.what}\n# by \`npm run examples:k8s\`: do not edit by hand.\n${manifestStream(e.render().manifests)}`,
    ]),
  );
}

if (import.meta.main) {
  for (const [file, text] of renderExamples()) {
    writeFileSync(here(file), text);
    process.stdout.write(`wrote examples/k8s/${file}\n`);
  }
}
