/**
 * What the stream translator needs to know about one OpenAI-shaped chunk, read in a single pass
 * over its text, without parsing it. It gives the same answers as running `hasObjectField` for
 * "error" and "usage", `stringFieldChars` for each generated-text field, and the finish test
 * one by one, but those were nine scans of every chunk: the top self-time frame of a streamed
 * unified request in `npm run bench -- --profile` (bench/RESULTS.md).
 */

export interface ChunkFacts {
  /** Decoded characters in string values of "content", "reasoning_content", "reasoning", "arguments", "delta". */
  generatedChars: number;
  /** An "error" key holding an object. */
  errorObject: boolean;
  /** A "usage" key holding an object. */
  usageObject: boolean;
  /** The Responses API's failure, written compactly: `"type":"response.failed"`. */
  failedResponse: boolean;
  /** A `finish_reason` string, or `"type": "response.completed"`. */
  finished: boolean;
}

// A key is a quoted name followed by a colon; inside a JSON string every quote is escaped, so a
// match is always a real key, and skipping a string value can never hide one.
const KEY = /"(content|reasoning_content|reasoning|arguments|delta|error|usage|finish_reason|type)"(\s*):(\s*)/g;
const QUOTE = 34;
const BACKSLASH = 92;
const U = 117;
const BRACE = 123;

export function scanChunk(data: string): ChunkFacts {
  const facts: ChunkFacts = { generatedChars: 0, errorObject: false, usageObject: false, failedResponse: false, finished: false };
  KEY.lastIndex = 0;
  for (let m = KEY.exec(data); m !== null; m = KEY.exec(data)) {
    let i = KEY.lastIndex;
    const name = m[1]!;
    // The finish test allows any whitespace around the colon; the others, spaces only.
    if (name === 'finish_reason') {
      if (data.charCodeAt(i) === QUOTE) facts.finished = true;
      continue;
    }
    if (name === 'type') {
      if (data.startsWith('"response.completed"', i)) facts.finished = true;
      else if (m[2] === '' && m[3] === '' && data.startsWith('"response.failed"', i)) facts.failedResponse = true;
      continue;
    }
    if (!onlySpaces(m[2]!) || !onlySpaces(m[3]!)) continue;
    const first = data.charCodeAt(i);
    if (name === 'error' || name === 'usage') {
      if (first === BRACE) facts[name === 'error' ? 'errorObject' : 'usageObject'] = true;
      continue;
    }
    if (first !== QUOTE) continue;
    // An escape (\n, \", \u00e9) is one character of text.
    for (i++; i < data.length && data.charCodeAt(i) !== QUOTE; facts.generatedChars++) {
      i += data.charCodeAt(i) !== BACKSLASH ? 1 : data.charCodeAt(i + 1) === U ? 6 : 2;
    }
    KEY.lastIndex = i + 1;
  }
  return facts;
}

function onlySpaces(gap: string): boolean {
  for (let i = 0; i < gap.length; i++) if (gap.charCodeAt(i) !== 32) return false;
  return true;
}
