/** Config problems a human can act on: which file, where in it, what was expected. */

export interface ConfigProblem {
  file: string;
  /** JSON pointer into the document, e.g. /credentials/0/secret. */
  path: string;
  line: number | null;
  column: number | null;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
  const path = p.path === '' ? '' : ` ${p.path}`;
  return `${where}${path}: ${p.message}`;
}

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n');
}
