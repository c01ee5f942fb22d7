/**
 * Caller input or upstream text as it may appear in an error message or a log line: control and
 * non-ASCII characters escaped (no forged log lines, no terminal escapes), and at most `max`
 * characters of it, the cut marked.
 */
export function printable(text: string, max = 120): string {
  const cut = text.length > max;
  const head = cut ? text.slice(0, max) : text;
  const escaped = head.replace(/[^\x20-\x7e]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return cut ? `${escaped}…` : escaped;
}
