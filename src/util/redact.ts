/** Scrubs secrets out of text that came from elsewhere (upstream error messages) before anyone sees it. */

// Shapes of provider keys: OpenAI/Anthropic/xAI/Groq style prefixes, AWS access key ids, Google API keys.
const KEY_SHAPES = /\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{8,}|xai-[A-Za-z0-9]{8,}|gsk_[A-Za-z0-9]{8,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{20,})/g;

export function redactSecrets(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 6 && out.includes(secret)) out = out.replaceAll(secret, '[redacted]');
  }
  return out.replace(KEY_SHAPES, '[redacted]');
}
