/**
 * Vertex can stream a function call's arguments as `partialArgs`: values addressed by JSON path,
 * strings arriving in pieces (recording: google-stream-tool-call-arguments.chunks.txt). This
 * rebuilds the arguments object; the call is handed to the client once it is complete.
 */
import type { PartialArg } from './wire.ts';

type Key = string | number;

export class PartialArgs {
  readonly value: Record<string, unknown> = {};

  apply(partials: readonly PartialArg[]): void {
    for (const p of partials) {
      const path = parsePath(p.jsonPath);
      if (path === null || path.length === 0) continue;
      if (typeof p.stringValue === 'string') this.#set(path, p.stringValue, true);
      else if (typeof p.numberValue === 'number') this.#set(path, p.numberValue, false);
      else if (typeof p.boolValue === 'boolean') this.#set(path, p.boolValue, false);
      else if ('nullValue' in p) this.#set(path, null, false);
    }
  }

  /** Sets the value at `path`, creating objects and arrays on the way; strings are appended. */
  #set(path: Key[], value: unknown, append: boolean): void {
    let node: Record<Key, unknown> = this.value;
    path.forEach((key, i) => {
      if (i === path.length - 1) {
        const current = node[key];
        node[key] = append && typeof current === 'string' ? current + String(value) : value;
        return;
      }
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = typeof path[i + 1] === 'number' ? [] : {};
      node = node[key] as Record<Key, unknown>;
    });
  }
}

const SEGMENT = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]/y;

/** `$.recipe.ingredients[0].name` → ['recipe', 'ingredients', 0, 'name']; null when unreadable. */
function parsePath(jsonPath: string): Key[] | null {
  if (!jsonPath.startsWith('$')) return null;
  const keys: Key[] = [];
  SEGMENT.lastIndex = 1;
  while (SEGMENT.lastIndex < jsonPath.length) {
    const m = SEGMENT.exec(jsonPath);
    if (!m) return null;
    keys.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3]!.replace(/\\(.)/g, '$1')));
  }
  return keys;
}
