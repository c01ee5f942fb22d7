/**
 * `tollbooth ledger rebill [--catalog DIR] [--json]`: every charge recomputed from its own stamp (0
 * differences expected), or priced by another catalog directory (a price-change preview). Exit 0
 * when priced by stamps and nothing differs, or always after a preview; 1 when the stamps disagree.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { loadConfig } from '../config/load.ts';
import { rebill, type RebillReport } from '../metering/ledger/rebill.ts';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** A catalog directory loaded and checked on its own, as the gateway would load it. */
export function loadCatalogDir(dir: string): Catalog {
  const scratch = mkdtempSync(join(tmpdir(), 'tollbooth-rebill-'));
  try {
    const file = join(scratch, 'tollbooth.yaml');
    writeFileSync(file, `catalog: ${JSON.stringify(resolve(dir))}\n`);
    return loadConfig(file).catalog;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function rebillCommand(dir: string, catalogDir: string | undefined, json: boolean, io: Out): number {
  const catalog = catalogDir === undefined ? null : loadCatalogDir(catalogDir);
  const report = rebill(dir, catalog);
  if (report.problems.length > 0) io.err(`warning: the ledger fails verification (${report.problems.length} problem(s)); run \`tollbooth ledger verify\`\n`);
  io.out(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, catalogDir));
  return catalog === null && report.differences.length > 0 ? 1 : 0;
}

function formatReport(r: RebillReport, catalogDir: string | undefined): string {
  const lines = [
    catalogDir === undefined
      ? `${r.charges} charge(s): ${r.rebilled} recomputed from their stamps, ${r.unstamped} without a stamp`
      : `${r.charges} charge(s) priced by the catalog in ${catalogDir} (price version ${r.priced_by})`,
  ];
  for (const d of r.differences.slice(0, 50)) {
    lines.push(`${d.file}:${d.line}: seq ${d.seq} ${d.org} ${d.model ?? '-'} booked ${d.booked} rebilled ${d.rebilled} (${d.difference.startsWith('-') ? '' : '+'}${d.difference}): ${d.why}`);
  }
  if (r.differences.length > 50) lines.push(`… and ${r.differences.length - 50} more (--json lists all)`);
  lines.push('', 'credits by class:');
  for (const [name, credits] of Object.entries(r.by_class)) lines.push(`  ${name.padEnd(24)} ${credits}`);
  lines.push('', `booked ${r.booked_total}; rebilled ${r.rebilled_total}; ${r.differences.length} difference(s)`);
  return `${lines.join('\n')}\n`;
}
