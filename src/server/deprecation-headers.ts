/** Headers that tell a caller which model served and, for a deprecated id, when it goes away. */
import type { Resolution } from '../catalog/deprecation.ts';

export function modelHeaders(resolution: Resolution): Record<string, string> {
  const { requested, model } = resolution;
  const headers: Record<string, string> = { 'x-tollbooth-model': model.model_id };
  if (requested !== model) headers['x-tollbooth-requested-model'] = requested.model_id;
  // RFC 9745: Deprecation is a structured-field date (@epoch-seconds); RFC 8594: Sunset is an HTTP-date.
  if (requested.deprecation_date) headers.deprecation = `@${Math.floor(Date.parse(requested.deprecation_date) / 1000)}`;
  if (requested.sunset_date) headers.sunset = new Date(requested.sunset_date).toUTCString();
  return headers;
}
