/**
 * Evidence for the capability matrix (docs/capabilities.md). A test that replays a provider's
 * recording through the real sidecar says which capabilities it proves with `proves(...)`; the
 * matrix generator finds these calls in the test sources, and a ✓ appears only where one exists.
 */
import type { Capability, Operation } from '../../src/catalog/types.ts';

export const CAPABILITIES = ['chat', 'stream', 'tools', 'streaming_tools', 'vision', 'thinking', 'embeddings', 'images', 'audio'] as const satisfies readonly Capability[];

/** Operations beyond chat that only some vendors serve: a provider offers one where its documented paths list it. */
export const OPERATIONS = ['text_completion', 'rerank', 'audio_speech'] as const satisfies readonly Operation[];

/** Served through native passthrough only, no unified endpoint: realtime sessions over WebSocket. */
export const PASSTHROUGH = ['realtime'] as const;

type Cap = (typeof CAPABILITIES)[number] | (typeof OPERATIONS)[number] | (typeof PASSTHROUGH)[number];

/** Marks the enclosing test as evidence that `provider` supports `capabilities` through the real sidecar (the unified API; passthrough for PASSTHROUGH ones). */
export function proves(provider: string, ...capabilities: Cap[]): void {
  if (capabilities.length === 0) throw new Error('proves() needs at least one capability');
  void provider;
}

/** The same, where no recording of this provider exists and another vendor's recording stands in. */
export function provesBorrowed(provider: string, ...capabilities: Cap[]): void {
  proves(provider, ...capabilities);
}

/**
 * The same, where no recording of the wire exists at all: the provider's messages in the test are
 * hand-written from its API reference.
 */
export function provesHandWritten(provider: string, ...capabilities: Cap[]): void {
  proves(provider, ...capabilities);
}
