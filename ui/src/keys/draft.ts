/** The key form's fields as typed (strings), and the KeyDraft the API takes from them. */
import { SURFACES, type ClientKey, type KeyDraft } from '../api/keys';

export interface KeyFields {
  name: string;
  /** "YYYY-MM-DD" or "" (never). */
  expires: string;
  surfaces: string[];
  /** Comma- or newline-separated patterns; "" is every model. */
  models: string;
  rpm: string;
  tpm: string;
  concurrent: string;
  budget: string;
  logPrompts: boolean;
}

export const EMPTY_FIELDS: KeyFields = {
  name: '',
  expires: '',
  surfaces: [...SURFACES],
  models: '',
  rpm: '',
  tpm: '',
  concurrent: '',
  budget: '',
  logPrompts: false,
};

function dateField(ms: number | null): string {
  if (ms === null) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function numberField(value: number | null): string {
  return value === null ? '' : String(value);
}

export function fieldsOf(key: ClientKey): KeyFields {
  return {
    name: key.name,
    expires: dateField(key.expires_at),
    surfaces: key.surfaces ?? [...SURFACES],
    models: (key.models ?? []).join(', '),
    rpm: numberField(key.limits.requests_per_minute),
    tpm: numberField(key.limits.tokens_per_minute),
    concurrent: numberField(key.limits.concurrent),
    budget: numberField(key.monthly_token_budget),
    logPrompts: key.log_prompts,
  };
}

/** A whole number ≥ 1, or null for an empty field; anything else is an error naming the field. */
function limit(text: string, label: string): number | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${label} must be a whole number of at least 1 (or empty for no limit).`);
  return value;
}

/** "2027-01-31" -> the end of that day, local time, as ISO-8601 UTC (a key "expires on" a day is good through it). */
export function endOfDay(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

/** The draft to send, or an Error with a message for the form. */
export function draftOf(fields: KeyFields, now: number = Date.now()): KeyDraft {
  const name = fields.name.trim();
  if (!name) throw new Error('Give the key a name (who or what uses it).');
  const expires_at = fields.expires ? endOfDay(fields.expires) : null;
  if (expires_at !== null && Date.parse(expires_at) <= now) throw new Error('The expiry date is in the past.');
  if (fields.surfaces.length === 0) throw new Error('Pick at least one surface, or the key can do nothing.');
  const models = fields.models
    .split(/[,\n]/)
    .map((pattern) => pattern.trim())
    .filter(Boolean);
  return {
    name,
    expires_at,
    // Every surface ticked is no restriction: a face added later is allowed too.
    surfaces: SURFACES.every((s) => fields.surfaces.includes(s)) ? null : SURFACES.filter((s) => fields.surfaces.includes(s)),
    models: models.length ? models : null,
    limits: {
      requests_per_minute: limit(fields.rpm, 'Requests per minute'),
      tokens_per_minute: limit(fields.tpm, 'Tokens per minute'),
      concurrent: limit(fields.concurrent, 'Concurrent requests'),
    },
    monthly_token_budget: limit(fields.budget, 'Monthly token budget'),
    log_prompts: fields.logPrompts,
  };
}
