/**
 * Client keys (`/v1/keys`): list, create (the answer holds the secret, the only time it
 * is shown), change, revoke. The admin key (`ATMOSPHERE_API_KEY`) is what manages them.
 */
import { ApiError, apiRequest } from './client';
import { bool, listOf, num, obj, str, strings } from './normalize';
import { timeFrom } from './usage';

/** The face families a key may be held to. */
export const SURFACES = ['openai', 'anthropic', 'ollama'] as const;
export type Surface = (typeof SURFACES)[number];

export interface KeyLimits {
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  concurrent: number | null;
}

export interface ClientKey {
  id: string;
  name: string;
  prefix: string;
  /** Epoch milliseconds, or null. */
  created_at: number | null;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  /** null: every surface. */
  surfaces: string[] | null;
  /** null: every model. */
  models: string[] | null;
  limits: KeyLimits;
  monthly_token_budget: number | null;
  tokens_this_month: number;
  log_prompts: boolean;
  limited_last_hour: number;
}

export interface NewClientKey extends ClientKey {
  secret: string;
}

/** What the form sends (POST, and PATCH with the same fields). */
export interface KeyDraft {
  name: string;
  expires_at: string | null;
  surfaces: string[] | null;
  models: string[] | null;
  limits: KeyLimits;
  monthly_token_budget: number | null;
  log_prompts: boolean;
}

function listOrNull(value: unknown): string[] | null {
  return Array.isArray(value) ? strings(value) : null;
}

export function keyFrom(value: unknown): ClientKey | null {
  const k = obj(value);
  const id = k && (str(k.id) ?? (num(k.id) !== null ? String(k.id) : null));
  if (!k || !id) return null;
  const limits = obj(k.limits) ?? {};
  return {
    id,
    name: str(k.name) ?? id,
    prefix: str(k.prefix) ?? '',
    created_at: timeFrom(k.created_at),
    last_used_at: timeFrom(k.last_used_at),
    expires_at: timeFrom(k.expires_at),
    revoked_at: timeFrom(k.revoked_at),
    surfaces: listOrNull(k.surfaces),
    models: listOrNull(k.models),
    limits: {
      requests_per_minute: num(limits.requests_per_minute),
      tokens_per_minute: num(limits.tokens_per_minute),
      concurrent: num(limits.concurrent),
    },
    monthly_token_budget: num(k.monthly_token_budget),
    tokens_this_month: num(k.tokens_this_month) ?? 0,
    log_prompts: bool(k.log_prompts) ?? false,
    limited_last_hour: num(k.limited_last_hour) ?? 0,
  };
}

function oneKey(data: unknown): ClientKey {
  const key = keyFrom(data);
  if (!key) throw new ApiError('The Atmosphere API answered without the key', { type: 'invalid_response' });
  return key;
}

function _id(id: string): string {
  return encodeURIComponent(id);
}

/** GET /v1/keys: every key, revoked ones included. */
export async function fetchKeys(signal?: AbortSignal): Promise<ClientKey[]> {
  return listOf(obj(await apiRequest('/v1/keys', { signal }))?.data, keyFrom);
}

/** POST /v1/keys: the new key with its secret. */
export async function createKey(draft: KeyDraft, signal?: AbortSignal): Promise<NewClientKey> {
  const data = await apiRequest('/v1/keys', { method: 'POST', body: draft, signal });
  const key = oneKey(data);
  const secret = str(obj(data)?.secret);
  if (!secret) throw new ApiError('The Atmosphere API created the key but sent no secret', { type: 'invalid_response' });
  return { ...key, secret };
}

/** PATCH /v1/keys/{id}: only the fields given change. */
export async function updateKey(id: string, change: Partial<KeyDraft>, signal?: AbortSignal): Promise<ClientKey> {
  return oneKey(await apiRequest(`/v1/keys/${_id(id)}`, { method: 'PATCH', body: change, signal }));
}

/** DELETE /v1/keys/{id}: revoked at once; the answer is the key with `revoked_at` set. */
export async function revokeKey(id: string, signal?: AbortSignal): Promise<ClientKey> {
  return oneKey(await apiRequest(`/v1/keys/${_id(id)}`, { method: 'DELETE', signal }));
}
