/** Filtering the request log by backend, model and outcome (the same filters `GET /v1/requests` takes). */
import type { RequestEntry, RequestFilter } from './types';

/** An entry matches a model filter by the model asked for or the native model that served. */
export function matches(entry: RequestEntry, filter: RequestFilter): boolean {
  if (filter.backend && entry.backend !== filter.backend) return false;
  if (filter.outcome && entry.outcome !== filter.outcome) return false;
  if (filter.model && entry.model !== filter.model && entry.requested_model !== filter.model) return false;
  return true;
}

/** The distinct non-empty values of one field, sorted, for a filter's choices. */
export function valuesOf(entries: RequestEntry[], pick: (entry: RequestEntry) => (string | null)[]): string[] {
  const values = new Set<string>();
  for (const entry of entries) for (const value of pick(entry)) if (value) values.add(value);
  return [...values].sort();
}
