/** Compiles the schemas once (ajv) and turns their errors into ConfigProblems. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvErrors from 'ajv-errors';
import addFormats from 'ajv-formats';
import { mainConfigSchema, modelsFileSchema, pricesSchema, providersFileSchema } from './schema.ts';
import type { ConfigProblem } from './problems.ts';
import type { YamlSource } from './yaml-source.ts';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
(ajvErrors as unknown as (a: Ajv) => void)(ajv);
ajv.addSchema(pricesSchema);

const validators = {
  main: ajv.compile(mainConfigSchema),
  providers: ajv.compile(providersFileSchema),
  models: ajv.compile(modelsFileSchema),
} satisfies Record<string, ValidateFunction>;

export type SchemaName = keyof typeof validators;

/** Validates (and fills defaults into) `source.value`; returns the problems found, if any. */
export function validateAgainst(schema: SchemaName, source: YamlSource): ConfigProblem[] {
  const validate = validators[schema];
  if (validate(source.value)) return [];
  return dedupe(validate.errors ?? []).map((e) =>
    // An unknown field is reported at the field itself, not at the object holding it.
    e.keyword === 'additionalProperties'
      ? source.problem(`${e.instancePath}/${String(e.params.additionalProperty)}`, 'unknown field')
      : source.problem(e.instancePath, describe(e)),
  );
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return `missing required field "${String(e.params.missingProperty)}"`;
    case 'enum':
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `must be ${String(e.params.type).replace(',', ' or ')}`;
    default:
      return e.message ?? `failed ${e.keyword}`;
  }
}

/**
 * oneOf/anyOf produce one error per branch. Where the schema wrote a sentence for a value
 * (errorMessage), that sentence alone is kept; otherwise the branch errors, without repeats.
 */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const explained = new Set(errors.filter((e) => e.keyword === 'errorMessage').map((e) => e.instancePath));
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    if (explained.has(e.instancePath) && e.keyword !== 'errorMessage') continue;
    const key = `${e.instancePath}|${describe(e)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  if (out.length === 0) return errors.slice(0, 1);
  return out;
}
