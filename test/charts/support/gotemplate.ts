/**
 * A small interpreter of Go's text/template, enough to render charts/tollbooth where `helm` is not
 * installed: actions with trim markers and comments, pipelines, variables, if/else if/else, range
 * (lists and maps, sorted keys), with, define/template/include, and the sprig functions the chart
 * uses (functions.ts). Semantics follow Go and Helm where they bite: numbers from values are
 * float64 (printed with %v), a field of a missing map key is nil and a field of nil is an error,
 * `and`/`or` short-circuit and return an operand, `printf "%s"` of a number is Go's error text.
 * Anything it does not know fails loudly instead of rendering something helm would not.
 */

export type Value = unknown;
export type Func = (...args: Value[]) => Value;

type Arg =
  | { k: 'dot'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'lit'; v: Value }
  | { k: 'pipe'; pipe: Pipe; path: string[] };
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}
type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if'; branches: { pipe: Pipe; body: Node[] }[]; otherwise: Node[] | null }
  | Block
  | { t: 'template'; name: string; pipe: Pipe | null };
type Block = { t: 'range' | 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] | null };

export class TemplateError extends Error {}

// ---------------------------------------------------------------- scanning

type Segment = { text: string } | { action: string; where: string };

function scan(src: string, file: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      out.push({ text });
      return out;
    }
    let j = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(j, j + 2))) {
      text = text.replace(/\s+$/, '');
      j += 1;
    }
    out.push({ text });
    const close = findClose(src, j, file);
    let inner = src.slice(j, close);
    trimNext = /[ \t\r\n]-$/.test(inner);
    if (trimNext) inner = inner.slice(0, -1);
    const line = src.slice(0, open).split('\n').length;
    inner = inner.trim();
    if (!(inner.startsWith('/*') && inner.endsWith('*/'))) out.push({ action: inner, where: `${file}:${line}` });
    i = close + 2;
  }
}

function findClose(src: string, from: number, file: string): number {
  let quote: string | null = null;
  for (let k = from; k < src.length; k++) {
    const c = src[k]!;
    if (quote) {
      if (c === '\\' && quote === '"') k++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === '`') quote = c;
    else if (c === '/' && src[k + 1] === '*') {
      const end = src.indexOf('*/', k + 2);
      if (end === -1) break;
      k = end + 1;
    } else if (c === '}' && src[k + 1] === '}') return k;
  }
  throw new TemplateError(`${file}: unclosed action`);
}

// ---------------------------------------------------------------- tokens

type Tok =
  | { k: 'str' | 'num' | 'ident' | 'var' | 'field' | 'punct'; v: string; spaced: boolean };

function tokenize(s: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const spaced = i === 0 || /\s/.test(s[i - 1]!);
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = s.slice(i);
    let m: RegExpMatchArray | null;
    if (c === '"') {
      m = rest.match(/^"(?:[^"\\]|\\.)*"/);
      if (!m) throw new TemplateError(`${where}: unterminated string`);
      toks.push({ k: 'str', v: JSON.parse(m[0]) as string, spaced });
    } else if (c === '`') {
      const end = s.indexOf('`', i + 1);
      m = [s.slice(i, end + 1)] as RegExpMatchArray;
      toks.push({ k: 'str', v: s.slice(i + 1, end), spaced });
    } else if ((m = rest.match(/^:=|^[()|=,]/))) {
      toks.push({ k: 'punct', v: m[0], spaced });
    } else if ((m = rest.match(/^-?\d+(\.\d+)?/))) {
      toks.push({ k: 'num', v: m[0], spaced });
    } else if ((m = rest.match(/^\$[A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*/))) {
      toks.push({ k: 'var', v: m[0], spaced });
    } else if ((m = rest.match(/^(\.[A-Za-z0-9_]+)+|^\./))) {
      toks.push({ k: 'field', v: m[0], spaced });
    } else if ((m = rest.match(/^[A-Za-z_][A-Za-z0-9_]*/))) {
      toks.push({ k: 'ident', v: m[0], spaced });
    } else {
      throw new TemplateError(`${where}: unexpected '${c}'`);
    }
    i += m[0].length;
  }
  return toks;
}

// ---------------------------------------------------------------- parsing

function parsePipe(toks: Tok[], where: string, allowDecl = true): Pipe {
  let pos = 0;
  const decl: string[] = [];
  let assign = false;
  if (allowDecl) {
    let look = 0;
    const names: string[] = [];
    while (toks[look]?.k === 'var' && !toks[look]!.v.includes('.')) {
      names.push(toks[look]!.v);
      look++;
      if (toks[look]?.v === ',' && toks[look]?.k === 'punct') look++;
      else break;
    }
    const op = toks[look];
    if (names.length > 0 && op?.k === 'punct' && (op.v === ':=' || op.v === '=')) {
      decl.push(...names);
      assign = op.v === '=';
      pos = look + 1;
    }
  }
  const cmds: Arg[][] = [[]];
  const stack: { cmds: Arg[][] }[] = [];
  let current = { cmds };
  for (; pos < toks.length; pos++) {
    const t = toks[pos]!;
    const cmd = current.cmds.at(-1)!;
    if (t.k === 'punct' && t.v === '|') current.cmds.push([]);
    else if (t.k === 'punct' && t.v === '(') {
      stack.push(current);
      current = { cmds: [[]] };
    } else if (t.k === 'punct' && t.v === ')') {
      const inner = current;
      current = stack.pop() ?? fail(`${where}: unbalanced ')'`);
      const next = toks[pos + 1];
      let path: string[] = [];
      if (next?.k === 'field' && !next.spaced && next.v !== '.') {
        path = next.v.slice(1).split('.');
        pos++;
      }
      current.cmds.at(-1)!.push({ k: 'pipe', pipe: { decl: [], assign: false, cmds: inner.cmds }, path });
    } else cmd.push(toArg(t, where));
  }
  if (stack.length > 0) throw new TemplateError(`${where}: unbalanced '('`);
  if (cmds.some((c) => c.length === 0)) throw new TemplateError(`${where}: empty command in pipeline`);
  return { decl, assign, cmds };
}

function toArg(t: Tok, where: string): Arg {
  switch (t.k) {
    case 'str':
      return { k: 'lit', v: t.v };
    case 'num':
      return { k: 'lit', v: Number(t.v) };
    case 'field':
      return { k: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.') };
    case 'var': {
      const [name, ...path] = t.v.split('.');
      return { k: 'var', name: name!, path };
    }
    case 'ident':
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'nil') return { k: 'lit', v: null };
      return { k: 'fn', name: t.v };
    default:
      throw new TemplateError(`${where}: unexpected '${t.v}'`);
  }
}

function fail(message: string): never {
  throw new TemplateError(message);
}

/** Parses a template file: its top-level nodes, and the `define`d templates it declares. */
export function parse(src: string, file: string): { nodes: Node[]; defines: Map<string, Node[]> } {
  const segments = scan(src, file);
  const defines = new Map<string, Node[]>();
  let pos = 0;

  // Parses nodes until one of `stops` (an action keyword); returns the keyword and its tokens.
  function parseList(stops: string[]): { nodes: Node[]; stop: string | null; toks: Tok[]; where: string } {
    const nodes: Node[] = [];
    while (pos < segments.length) {
      const seg = segments[pos++]!;
      if ('text' in seg) {
        if (seg.text) nodes.push({ t: 'text', v: seg.text });
        continue;
      }
      const toks = tokenize(seg.action, seg.where);
      const head = toks[0]?.k === 'ident' ? toks[0].v : '';
      if (stops.includes(head)) return { nodes, stop: head, toks: toks.slice(1), where: seg.where };
      switch (head) {
        case 'if': {
          const branches = [{ pipe: parsePipe(toks.slice(1), seg.where), body: [] as Node[] }];
          let otherwise: Node[] | null = null;
          for (;;) {
            const part = parseList(['else', 'end']);
            if (otherwise) otherwise = part.nodes;
            else branches.at(-1)!.body = part.nodes;
            if (part.stop === 'end') break;
            if (part.stop !== 'else') throw new TemplateError(`${seg.where}: unterminated if`);
            if (part.toks[0]?.k === 'ident' && part.toks[0].v === 'if') {
              branches.push({ pipe: parsePipe(part.toks.slice(1), part.where), body: [] });
            } else otherwise = [];
          }
          nodes.push({ t: 'if', branches, otherwise });
          break;
        }
        case 'range':
        case 'with': {
          const pipe = parsePipe(toks.slice(1), seg.where);
          const body = parseList(['else', 'end']);
          let otherwise: Node[] | null = null;
          if (body.stop === 'else') otherwise = parseList(['end']).nodes;
          else if (body.stop !== 'end') throw new TemplateError(`${seg.where}: unterminated ${head}`);
          nodes.push({ t: head, pipe, body: body.nodes, otherwise });
          break;
        }
        case 'define': {
          const name = toks[1]?.k === 'str' ? toks[1].v : fail(`${seg.where}: define needs a name`);
          const body = parseList(['end']);
          if (body.stop !== 'end') throw new TemplateError(`${seg.where}: unterminated define`);
          defines.set(name, body.nodes);
          break;
        }
        case 'template': {
          const name = toks[1]?.k === 'str' ? toks[1].v : fail(`${seg.where}: template needs a name`);
          nodes.push({ t: 'template', name, pipe: toks.length > 2 ? parsePipe(toks.slice(2), seg.where, false) : null });
          break;
        }
        case 'else':
        case 'end':
        case 'block':
        case 'break':
        case 'continue':
          throw new TemplateError(`${seg.where}: unexpected or unsupported '${head}'`);
        default:
          nodes.push({ t: 'action', pipe: parsePipe(toks, seg.where) });
      }
    }
    return { nodes, stop: null, toks: [], where: file };
  }

  const top = parseList([]);
  return { nodes: top.nodes, defines };
}

// ---------------------------------------------------------------- evaluation

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Go's %v for a float64: the shortest form, with an exponent from 1e21 down to 1e6. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return String(n);
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (n !== 0 && (exp < -4 || exp >= 21 || (Number.isInteger(n) && exp >= 6))) {
    const [mant, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    return `${mant}e${sign}${e.replace(/^[-+]/, '').padStart(2, '0')}`;
  }
  return String(n);
}

/** How `{{ x }}` prints a value (Helm turns "<no value>" into ""). */
export function printValue(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (typeof v === 'object') {
    return `map[${Object.keys(v).sort().map((k) => `${k}:${printValue((v as Record<string, Value>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

class Scope {
  readonly vars = new Map<string, Value>();
  readonly parent: Scope | null;
  constructor(parent: Scope | null) {
    this.parent = parent;
  }
  get(name: string, where: string): Value {
    for (let s: Scope | null = this; s; s = s.parent) if (s.vars.has(name)) return s.vars.get(name);
    throw new TemplateError(`${where}: undefined variable ${name}`);
  }
  set(name: string, value: Value, where: string): void {
    for (let s: Scope | null = this; s; s = s.parent) {
      if (s.vars.has(name)) {
        s.vars.set(name, value);
        return;
      }
    }
    throw new TemplateError(`${where}: undefined variable ${name}`);
  }
}

export class Engine {
  readonly defines = new Map<string, Node[]>();
  readonly funcs: Record<string, Func>;

  constructor(funcs: (engine: Engine) => Record<string, Func>) {
    this.funcs = funcs(this);
  }

  /** Adds a file's `define`s and returns its top-level nodes. */
  add(src: string, file: string): Node[] {
    const { nodes, defines } = parse(src, file);
    for (const [name, body] of defines) this.defines.set(name, body);
    return nodes;
  }

  execute(nodes: Node[], data: Value): string {
    const scope = new Scope(null);
    scope.vars.set('$', data);
    return this.#run(nodes, data, scope);
  }

  /** `include`: a defined template rendered with `data` as both `.` and `$`. */
  include(name: string, data: Value): string {
    const body = this.defines.get(name);
    if (!body) throw new TemplateError(`no template "${name}" associated with template`);
    return this.execute(body, data);
  }

  #run(nodes: Node[], dot: Value, scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.t) {
        case 'text':
          out += node.v;
          break;
        case 'action': {
          const v = this.#pipe(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) out += printValue(v);
          break;
        }
        case 'if': {
          const inner = new Scope(scope);
          const branch = node.branches.find((b) => truthy(this.#pipe(b.pipe, dot, inner)));
          if (branch) out += this.#run(branch.body, dot, inner);
          else if (node.otherwise) out += this.#run(node.otherwise, dot, inner);
          break;
        }
        case 'with': {
          const inner = new Scope(scope);
          const v = this.#pipe(node.pipe, dot, inner);
          if (truthy(v)) out += this.#run(node.body, v, inner);
          else if (node.otherwise) out += this.#run(node.otherwise, dot, inner);
          break;
        }
        case 'range':
          out += this.#range(node, dot, scope);
          break;
        case 'template':
          out += this.include(node.name, node.pipe ? this.#pipe(node.pipe, dot, scope) : null);
          break;
      }
    }
    return out;
  }

  #range(node: Block, dot: Value, scope: Scope): string {
    const pipe: Pipe = { ...node.pipe, decl: [] };
    const collection = this.#pipe(pipe, dot, scope);
    const entries: [Value, Value][] = Array.isArray(collection)
      ? collection.map((v, i) => [i, v])
      : collection && typeof collection === 'object'
        ? Object.keys(collection).sort().map((k) => [k, (collection as Record<string, Value>)[k]])
        : collection === null || collection === undefined
          ? []
          : fail(`range can't iterate over ${printValue(collection)}`);
    if (entries.length === 0) return node.otherwise ? this.#run(node.otherwise, dot, new Scope(scope)) : '';
    let out = '';
    for (const [key, value] of entries) {
      const inner = new Scope(scope);
      const [a, b] = node.pipe.decl;
      if (b) {
        inner.vars.set(a!, key);
        inner.vars.set(b, value);
      } else if (a) inner.vars.set(a, value);
      out += this.#run(node.body, value, inner);
    }
    return out;
  }

  #pipe(pipe: Pipe, dot: Value, scope: Scope): Value {
    let value: Value = undefined;
    let piped = false;
    for (const cmd of pipe.cmds) {
      value = this.#command(cmd, dot, scope, piped ? [value] : []);
      piped = true;
    }
    for (const name of pipe.decl) {
      if (pipe.assign) scope.set(name, value, 'assignment');
      else scope.vars.set(name, value);
    }
    return value;
  }

  #command(cmd: Arg[], dot: Value, scope: Scope, final: Value[]): Value {
    const [head, ...rest] = cmd as [Arg, ...Arg[]];
    if (head.k === 'fn') {
      if (head.name === 'and' || head.name === 'or') return this.#logic(head.name, rest, dot, scope, final);
      const fn = this.funcs[head.name] ?? fail(`function "${head.name}" not defined`);
      return fn(...rest.map((a) => this.#arg(a, dot, scope)), ...final);
    }
    const value = this.#arg(head, dot, scope);
    if (typeof value === 'function') return (value as Func)(...rest.map((a) => this.#arg(a, dot, scope)), ...final);
    if (rest.length > 0 || final.length > 0) throw new TemplateError(`can't give argument to non-function ${printValue(value)}`);
    return value;
  }

  #logic(op: 'and' | 'or', args: Arg[], dot: Value, scope: Scope, final: Value[]): Value {
    const thunks: (() => Value)[] = [...args.map((a) => () => this.#arg(a, dot, scope)), ...final.map((v) => () => v)];
    let v: Value = undefined;
    for (const thunk of thunks) {
      v = thunk();
      if (op === 'and' ? !truthy(v) : truthy(v)) return v;
    }
    return v;
  }

  #arg(arg: Arg, dot: Value, scope: Scope): Value {
    switch (arg.k) {
      case 'lit':
        return arg.v;
      case 'dot':
        return walk(dot, arg.path);
      case 'var':
        return walk(scope.get(arg.name, 'expression'), arg.path);
      case 'pipe':
        return walk(this.#pipe(arg.pipe, dot, scope), arg.path);
      case 'fn': {
        const fn = this.funcs[arg.name] ?? fail(`function "${arg.name}" not defined`);
        return fn();
      }
    }
  }
}

function walk(base: Value, path: string[]): Value {
  let v = base;
  for (const [i, name] of path.entries()) {
    if (v === null || v === undefined) {
      throw new TemplateError(`nil pointer evaluating interface {}.${path.slice(i).join('.')}`);
    }
    if (typeof v !== 'object') throw new TemplateError(`can't evaluate field ${name} in type ${typeof v}`);
    const next = (v as Record<string, Value>)[name];
    v = typeof next === 'function' ? (next as Func).bind(v) : next === undefined ? null : next;
  }
  return v;
}
