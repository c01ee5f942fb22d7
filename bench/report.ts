/** A run as Markdown (stdout and bench/RESULTS.md) and as JSON (bench/results/<date>.json). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mb, pct, signedUs, us } from './goals.ts';
import { measured, type CaseResult, type RunResult } from './results.ts';
import { subjectLabel, type SubjectName } from './subjects/subject.ts';

export function renderRun(run: RunResult): string {
  const s = run.settings;
  const conns = s.connections;
  const lines = [
    `### ${run.date} (${run.mode}${s.profiled ? ', PROFILED: numbers inflated' : ''})`,
    '',
    `- Machine: ${run.machine.nproc} × ${run.machine.cpu}, ${run.machine.os}, Node ${run.machine.node}; load average at start ${run.machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
    `- Load: ${run.loadGenerator}, at ${conns.join(' and ')} connection(s); per subject and connection count ${s.warmupS} s warm-up then ${s.durationS} s measured in ${s.rounds} window(s), the subjects interleaved round by round; first chunk: median of ${s.firstChunkSamples} sequential requests per subject on one connection each, the subjects taking turns`,
    `- Tollbooth: \`${run.tollbooth.command}\`, log level ${run.tollbooth.logLevel}, metering and metrics on: ${run.tollbooth.usageRecords.toLocaleString('en-US')} ledger lines written, ${run.tollbooth.requestsCounted?.toLocaleString('en-US') ?? '?'} requests in tollbooth_requests_total`,
    ...run.variants.map((v) => `- Variant \`tollbooth:${v.name}\`: the same config${v.logLevel ? `, log level ${v.logLevel}` : ''}${v.nodeArgs.length ? `, node ${v.nodeArgs.join(' ')}` : ''}${v.root ? `, code from ${v.root}` : ''}`),
    `- Latency is the full response (last byte) as the load generator saw it; CPU/req is the proxy process's utime+stime over the window ÷ responses; RSS is VmRSS of the proxy process (idle = after start-up, before any request).`,
    '',
  ];
  lines.push(`Cases: ${run.cases.map((c) => `**${c.id}** = ${c.title}`).join('; ')}.`, '');
  lines.push(...renderTable(run), '');
  lines.push('#### Targets (issue 8)', '');
  for (const g of run.goals) lines.push(`- ${g.met === null ? '–' : g.met ? '✓' : '✗'} ${g.goal}: ${g.value}`);
  const tb = run.processes.tollbooth;
  if (tb?.rssAfterBytes) lines.push('', `Tollbooth RSS after the last measurement (load stopped): ${mb(tb.rssAfterBytes)}.`);
  if (run.ledger) lines.push('', '#### Ledger (bench/ledger.ts, its own process, after the proxies stopped)', '', '```', run.ledger, '```');
  return lines.join('\n');
}

/** One table: a group of rows per case, one row per subject, Tollbooth's rps as a share of each. */
function renderTable(run: RunResult): string[] {
  const conns = run.settings.connections;
  const high = conns.length - 1;
  const low = conns.indexOf(Math.min(...conns));
  const header = [
    'case',
    'subject',
    ...conns.flatMap((n) => [`rps @${n}`, `p50 @${n}`, `p99 @${n}`]),
    `+p50 @${conns[low]} vs direct`,
    'first chunk p50 @1 (vs direct)',
    `CPU/req @${conns[high]}`,
    'RSS idle → peak',
    `Tollbooth rps @${conns[high]} ÷ this`,
  ];
  const rows = [header, header.map(() => '---')];
  for (const c of run.cases) {
    const direct = measured(c, 'direct');
    const tb = measured(c, 'tollbooth');
    c.subjects.forEach((s, i) => {
      const row = [i === 0 ? `**${c.id}**` : '', label(s.subject)];
      if (s.status !== 'ok') {
        row.push(`**${s.status}**${s.note ? `: ${s.note.replaceAll('|', '\\|').slice(0, 160)}` : ''}`);
        rows.push([...row, ...header.slice(row.length).map(() => '')]);
        return;
      }
      for (const m of s.loads) row.push(`${Math.round(m.rps).toLocaleString('en-US')}${m.non2xx || m.errors ? ` ⚠ ${m.non2xx} non-2xx, ${m.errors} errors` : ''}`, us(m.p50Us), us(m.p99Us));
      row.push(s.subject === 'direct' || !direct ? '' : signedUs(s.loads[low]!.p50Us - direct.loads[low]!.p50Us));
      const fc = s.firstChunk;
      row.push(!fc ? '—' : s.subject === 'direct' || !direct?.firstChunk ? us(fc.p50Us) : `${us(fc.p50Us)} (${signedUs(fc.p50Us - direct.firstChunk.p50Us)})`);
      const cpu = s.loads[high]!.cpuUsPerRequest;
      row.push(cpu === null ? '—' : us(cpu));
      const proc = run.processes[s.subject];
      const peak = Math.max(...s.loads.map((m) => m.rssPeakBytes ?? 0));
      row.push(proc && s.subject !== 'direct' ? `${mb(proc.rssIdleBytes)} → ${mb(peak)}` : '—');
      row.push(tb && s.subject !== 'tollbooth' ? pct(tb.loads[high]!.rps / s.loads[high]!.rps) : '');
      rows.push(row);
    });
  }
  return rows.map((r) => `| ${r.join(' | ')} |`);
}

const label = (s: SubjectName) => subjectLabel(s);

const LATEST_START = '<!-- bench:latest:start -->';
const LATEST_END = '<!-- bench:latest:end -->';
const HISTORY = '<!-- bench:history -->';

const TEMPLATE = `# Benchmark results

\`npm run bench\` (bench/run.ts) starts, on 127.0.0.1, a fast fake upstream replaying recorded
provider bodies, the baselines (a bare undici proxy, a bare http-proxy-3 proxy, nginx when it is
installed) and Tollbooth itself (\`node src/cli.ts serve\`, metering and metrics on), drives each
with the same requests at 1 and 50 connections, and writes the table below (and
bench/results/<date>.json). \`npm run bench -- --quick\` is shorter; \`--profile\` adds a CPU profile
of Tollbooth; \`--variant\` measures another Tollbooth (log level, node flag, other checkout) in the
same run. Options: \`node bench/run.ts --help\`.

**Read ratios, not absolutes.** The machine has 2 cores shared with other engineers' test runs, and
the load generator, the fake upstream and the proxy under test share them too: absolute figures
drift from run to run, ratios between subjects measured in the same run hold.

## Latest run

${LATEST_START}
${LATEST_END}

## All runs (newest first)

${HISTORY}
`;

/** Replaces the latest run in RESULTS.md and adds a line to its history; the rest of the file is kept. */
export function updateResultsMarkdown(file: string, run: RunResult, rendered: string, jsonPath: string): void {
  let text = existsSync(file) ? readFileSync(file, 'utf8') : TEMPLATE;
  if (!text.includes(LATEST_START) || !text.includes(LATEST_END)) text = `${text.trimEnd()}\n\n## Latest run\n\n${LATEST_START}\n${LATEST_END}\n`;
  if (!text.includes(HISTORY)) text = `${text.trimEnd()}\n\n## All runs (newest first)\n\n${HISTORY}\n`;
  const start = text.indexOf(LATEST_START) + LATEST_START.length;
  text = `${text.slice(0, start)}\n${rendered}\n${text.slice(text.indexOf(LATEST_END))}`;
  const at = text.indexOf(HISTORY) + HISTORY.length;
  text = `${text.slice(0, at)}\n${historyLine(run, jsonPath)}${text.slice(at)}`;
  writeFileSync(file, text);
}

function historyLine(run: RunResult, jsonPath: string): string {
  const met = run.goals.filter((g) => g.met === true).length;
  const judged = run.goals.filter((g) => g.met !== null).length;
  const high = run.settings.connections.length - 1;
  const ratio = (c: CaseResult, base: SubjectName) => {
    const tb = measured(c, 'tollbooth');
    const b = measured(c, base);
    return tb && b ? pct(tb.loads[high]!.rps / b.loads[high]!.rps) : 'n/a';
  };
  const parts = run.cases.map((c) => `${c.id} ${ratio(c, c.id === 'passthrough' ? 'http-proxy-3' : 'undici')} of ${c.id === 'passthrough' ? 'http-proxy-3' : 'undici'}`);
  return `- ${run.date} (${run.mode}, ${run.loadGenerator}): ${met}/${judged} targets met; ${parts.join('; ')} — \`${jsonPath}\``;
}


export function writeJson(file: string, run: RunResult): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}
