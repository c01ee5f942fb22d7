/** When traces are on and where they go: the config block first, then the standard OTEL_* variables. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TracesConfig } from '../../src/config/types.ts';
import { traceSettings } from '../../src/telemetry/settings.ts';

const unset: TracesConfig = { enabled: null, endpoint: null, service_name: null, sample_ratio: null };

test('off by default: no config, no OTEL_* variables (not even OTEL_SERVICE_NAME alone)', () => {
  assert.equal(traceSettings(unset, {}), null);
  assert.equal(traceSettings(unset, { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), null);
});

test('on from the environment: an OTLP endpoint, or OTEL_TRACES_EXPORTER=otlp', () => {
  assert.deepEqual(traceSettings(unset, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), {
    endpoint: 'http://collector:4318/v1/traces',
    serviceName: 'tollbooth',
    sampleRatio: null,
  });
  // The signal-specific URL is taken as is and wins over the base one.
  assert.equal(
    traceSettings(unset, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' })?.endpoint,
    'http://b:4318/custom',
  );
  assert.deepEqual(traceSettings(unset, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'billing-sidecar' }), {
    endpoint: 'http://localhost:4318/v1/traces',
    serviceName: 'billing-sidecar',
    sampleRatio: null,
  });
});

test('off switches: OTEL_TRACES_EXPORTER=none, OTEL_SDK_DISABLED=true, enabled: false', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  assert.equal(traceSettings(unset, { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }), null);
  assert.equal(traceSettings({ ...unset, enabled: true }, { ...endpoint, OTEL_SDK_DISABLED: 'true' }), null);
  assert.equal(traceSettings({ ...unset, enabled: false }, endpoint), null);
});

test('the config block wins over the environment', () => {
  const config: TracesConfig = { enabled: true, endpoint: 'https://otel.example/v1/traces', service_name: 'from-config', sample_ratio: 0.25 };
  assert.deepEqual(traceSettings(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SERVICE_NAME: 'from-env' }), {
    endpoint: 'https://otel.example/v1/traces',
    serviceName: 'from-config',
    sampleRatio: 0.25,
  });
  // enabled alone: the environment's endpoint (or the spec's default) and name.
  assert.equal(traceSettings({ ...unset, enabled: true }, {})?.endpoint, 'http://localhost:4318/v1/traces');
});
