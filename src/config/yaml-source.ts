/** Reads a YAML file and remembers where each value sits, so problems can name a line. */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ConfigError, type ConfigProblem } from './problems.ts';

export interface YamlSource {
  file: string;
  value: unknown;
  /** A problem at `pointer` (JSON pointer), with the line and column of that value when known. */
  problem(pointer: string, message: string): ConfigProblem;
}

export function readYamlFile(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { file, path: '', line: null, column: null, message: `cannot read file: ${(err as Error).message}` },
    ]);
  }
  return parseYaml(file, text);
}

export function parseYaml(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { file, path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  return {
    file,
    value: doc.toJS({ maxAliasCount: 100 }) ?? {},
    problem: (pointer, message) => {
      const pos = locate(doc, lineCounter, pointer);
      return { file, path: pointer, line: pos?.line ?? null, column: pos?.col ?? null, message };
    },
  };
}

function locate(doc: Document, lines: LineCounter, pointer: string): { line: number; col: number } | null {
  const segments = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  // Walk up until a segment exists: a missing property is reported where its parent is.
  for (let n = segments.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]);
  }
  return null;
}
