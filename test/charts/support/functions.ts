/** The sprig and Helm template functions charts/tollbooth uses, with Go/sprig semantics. */
import { createHash } from 'node:crypto';
import { parse as parseYaml, stringify } from 'yaml';
import { TemplateError, printValue, truthy, type Engine, type Func, type Value } from './gotemplate.ts';

type Dict = Record<string, Value>;

/** sprig's strval: how a value becomes a string for string functions. */
function str(v: Value): string {
  return printValue(v);
}

function isDict(v: Value): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Go's json.Marshal: sorted keys, and <, > and & escaped. */
function goJson(v: Value): string {
  const sort = (x: Value): Value =>
    Array.isArray(x) ? x.map(sort) : isDict(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])])) : x;
  return JSON.stringify(sort(v) ?? null)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

/** Helm's toYaml (sigs.k8s.io/yaml): sorted keys, sequences not indented, no trailing newline. */
export function toYaml(v: Value): string {
  return stringify(v ?? null, { sortMapEntries: true, indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false }).replace(/\n$/, '');
}

/** Go's fmt for the verbs charts use; a verb that does not fit its operand prints Go's error text. */
function sprintf(format: string, ...args: Value[]): string {
  let i = 0;
  return format.replace(/%([%svdq])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    const typeName = typeof a === 'number' ? 'float64' : typeof a === 'boolean' ? 'bool' : typeof a;
    switch (verb) {
      case 's':
        return typeof a === 'string' ? a : a === null || a === undefined ? '%!s(<nil>)' : `%!s(${typeName}=${printValue(a)})`;
      case 'd':
        return `%!d(${typeName}=${printValue(a)})`;
      case 'q':
        return typeof a === 'string' ? JSON.stringify(a) : `%!q(${typeName}=${printValue(a)})`;
      default:
        return printValue(a);
    }
  });
}

function deepCopy(v: Value): Value {
  return v === undefined ? null : structuredClone(v);
}

function compare(a: Value, b: Value): boolean {
  if (a !== null && b !== null && a !== undefined && b !== undefined && typeof a !== typeof b) {
    throw new TemplateError(`incompatible types for comparison: ${typeof a} and ${typeof b}`);
  }
  return (a ?? null) === (b ?? null);
}

function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return 0;
}

function indent(n: Value, s: Value): string {
  const pad = ' '.repeat(num(n));
  return pad + str(s).replaceAll('\n', `\n${pad}`);
}

export function helmFunctions(engine: Engine): Record<string, Func> {
  return {
    include: (name, data) => engine.include(str(name), data),
    tpl: () => {
      throw new TemplateError('tpl is not supported by this renderer');
    },
    required: (message, v) => {
      if (!truthy(v) && v !== false && v !== 0) throw new TemplateError(str(message));
      return v;
    },
    fail: (message) => {
      throw new TemplateError(str(message));
    },
    toYaml: (v) => toYaml(v),
    toJson: (v) => goJson(v),
    fromYaml: (s) => (parseYaml(str(s)) as Value) ?? {},
    toString: (v: Value) => str(v),
    printf: (format, ...args) => sprintf(str(format), ...args),
    print: (...args) => args.map(str).join(''),
    quote: (...args) => args.filter((a) => a !== null && a !== undefined).map((a) => JSON.stringify(str(a))).join(' '),
    squote: (...args) => args.map((a) => `'${str(a)}'`).join(' '),
    indent: (n, s) => indent(n, s),
    nindent: (n, s) => `\n${indent(n, s)}`,
    trim: (s) => str(s).trim(),
    trimSuffix: (suffix, s) => (str(s).endsWith(str(suffix)) && str(suffix) ? str(s).slice(0, -str(suffix).length) : str(s)),
    trimPrefix: (prefix, s) => (str(s).startsWith(str(prefix)) ? str(s).slice(str(prefix).length) : str(s)),
    trunc: (n, s) => {
      const c = num(n);
      const text = str(s);
      return c >= 0 ? text.slice(0, c) : text.slice(Math.max(0, text.length + c));
    },
    replace: (from, to, s) => str(s).replaceAll(str(from), str(to)),
    contains: (sub, s) => str(s).includes(str(sub)),
    hasPrefix: (prefix, s) => str(s).startsWith(str(prefix)),
    hasSuffix: (suffix, s) => str(s).endsWith(str(suffix)),
    lower: (s) => str(s).toLowerCase(),
    upper: (s) => str(s).toUpperCase(),
    sha256sum: (s) => createHash('sha256').update(str(s)).digest('hex'),
    b64enc: (s) => Buffer.from(str(s)).toString('base64'),
    splitList: (sep, s) => str(s).split(str(sep)),
    join: (sep, list) => (Array.isArray(list) ? list.map(str).join(str(sep)) : str(list)),
    list: (...items) => items,
    append: (list, v) => [...(Array.isArray(list) ? list : []), v],
    uniq: (list) => [...new Set(Array.isArray(list) ? list : [])],
    sortAlpha: (list) => (Array.isArray(list) ? list.map(str).sort() : []),
    first: (list) => (Array.isArray(list) ? (list[0] ?? null) : null),
    dict: (...kv) => {
      const d: Dict = {};
      for (let i = 0; i < kv.length; i += 2) d[str(kv[i])] = kv[i + 1] === undefined ? null : kv[i + 1];
      return d;
    },
    get: (d, k) => (isDict(d) && str(k) in d ? d[str(k)] : ''),
    set: (d, k, v) => {
      if (!isDict(d)) throw new TemplateError('set on a non-dict');
      d[str(k)] = v;
      return d;
    },
    hasKey: (d, k) => isDict(d) && str(k) in d,
    keys: (d) => (isDict(d) ? Object.keys(d) : []),
    deepCopy: (v) => deepCopy(v),
    default: (d, ...given) => (given.length > 0 && truthy(given[0]) ? given[0] : d),
    empty: (v) => !truthy(v),
    coalesce: (...vs) => vs.find(truthy) ?? null,
    ternary: (a, b, cond) => (cond ? a : b),
    not: (v) => !truthy(v),
    eq: (a, ...bs) => bs.some((b) => compare(a, b)),
    ne: (a, b) => !compare(a, b),
    lt: (a, b) => num(a) < num(b),
    le: (a, b) => num(a) <= num(b),
    gt: (a, b) => num(a) > num(b),
    ge: (a, b) => num(a) >= num(b),
    len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : isDict(v) ? Object.keys(v).length : 0),
    int: (v) => Math.trunc(num(v)),
    add: (...vs) => vs.reduce<number>((a, b) => a + num(b), 0),
    kindIs: (kind, v) => kindOf(v) === str(kind),
    kindOf: (v) => kindOf(v),
  };
}

function kindOf(v: Value): string {
  if (v === null || v === undefined) return 'invalid';
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}
