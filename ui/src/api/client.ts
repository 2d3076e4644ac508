/**
 * The only place that calls the Atmosphere HTTP API (same origin).
 *
 * Every function resolves with the answer already read by `normalize.ts`, or
 * rejects with an ApiError whose message is the one the service sent, so
 * components can show it as-is. Aborted calls reject with the AbortError.
 */
import { apiKey, authHeaders, keyRefused } from './auth';
import {
  catalogFrom,
  equivalentFrom,
  suggestionsFrom,
  integrationListFrom,
  oneIntegrationFrom,
  requestListFrom,
  testResultFrom,
  warmResultFrom,
} from './normalize';
import type {
  CatalogModel,
  Equivalent,
  EquivalentSuggestion,
  Integration,
  IntegrationList,
  NewHost,
  RequestEntry,
  RequestFilter,
  TestResult,
  WarmResult,
} from './types';

interface ErrorDetails {
  status?: number;
  type?: string | null;
  code?: string | null;
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: string | null;
  readonly code: string | null;

  constructor(message: string, { status = 0, type = null, code = null }: ErrorDetails = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.code = code;
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException ? err.name === 'AbortError' : (err as { name?: unknown } | null)?.name === 'AbortError';
}

/** The message of whatever was thrown, for showing. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function _errorBody(data: unknown): { message?: unknown; type?: unknown; code?: unknown } | null {
  if (typeof data !== 'object' || data === null) return null;
  const body = data as { error?: unknown; detail?: unknown };
  if (typeof body.error === 'object' && body.error !== null) return body.error as { message?: unknown };
  if (typeof body.detail === 'string') return { message: body.detail };
  return null;
}

/** The ApiError for a response that is not ok, from its (OpenAI-shaped) error body. */
export function errorFromResponse(response: Response, data: unknown): ApiError {
  const err = _errorBody(data);
  const message =
    err && typeof err.message === 'string' ? err.message : `HTTP ${response.status} ${response.statusText || ''}`.trim();
  return new ApiError(message, {
    status: response.status,
    type: err && typeof err.type === 'string' ? err.type : null,
    code: err && typeof err.code === 'string' ? err.code : null,
  });
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

/** fetch with the API key attached; a 401 tells the key prompt. Network failures become ApiErrors. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const key = apiKey();
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(key), ...(init.headers as Record<string, string>) } });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(`Network error: ${errorMessage(err) || 'request failed'}`, { type: 'network_error' });
  }
  if (response.status === 401) keyRefused(key);
  return response;
}

async function _request(path: string, { method = 'GET', body, signal }: RequestOptions = {}): Promise<unknown> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await apiFetch(path, {
    method,
    signal,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw errorFromResponse(response, data);
  if (data === null || typeof data !== 'object') {
    throw new ApiError('The Atmosphere API sent a response that is not JSON', { status: response.status, type: 'invalid_response' });
  }
  return data;
}

function _id(integrationId: string): string {
  return encodeURIComponent(integrationId);
}

function _integration(data: unknown): Integration {
  const integration = oneIntegrationFrom(data);
  if (!integration) throw new ApiError('The Atmosphere API answered without the integration', { type: 'invalid_response' });
  return integration;
}

/** GET /v1/integrations (with ?refresh=true to make the service scan now). */
export async function fetchIntegrations({ refresh = false, signal }: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<IntegrationList> {
  return integrationListFrom(await _request(refresh ? '/v1/integrations?refresh=true' : '/v1/integrations', { signal }));
}

/** POST /v1/integrations/test. `model` is left out when empty so the backend picks its default. */
export async function runIntegrationTest(
  { integrationId, prompt, model }: { integrationId: string; prompt: string; model?: string },
  signal?: AbortSignal,
): Promise<TestResult> {
  const body: Record<string, string> = { integration_id: integrationId, prompt };
  if (model) body.model = model;
  return testResultFrom(await _request('/v1/integrations/test', { method: 'POST', body, signal }));
}

/** POST /v1/integrations/{id}/enable or /disable. */
export async function setIntegrationEnabled(integrationId: string, enabled: boolean): Promise<Integration> {
  const verb = enabled ? 'enable' : 'disable';
  return _integration(await _request(`/v1/integrations/${_id(integrationId)}/${verb}`, { method: 'POST' }));
}

/** POST /v1/integrations: a host the person entered. */
export async function addIntegration(host: NewHost): Promise<Integration> {
  return _integration(await _request('/v1/integrations', { method: 'POST', body: host }));
}

/** DELETE /v1/integrations/{id}. */
export async function removeIntegration(integrationId: string): Promise<void> {
  await _request(`/v1/integrations/${_id(integrationId)}`, { method: 'DELETE' });
}

/** POST /v1/integrations/order: the new priority order; resolves with every integration in it. */
export async function reorderIntegrations(order: string[]): Promise<Integration[]> {
  return integrationListFrom(await _request('/v1/integrations/order', { method: 'POST', body: { order } })).integrations;
}

/** POST /v1/integrations/{id}/warm: load a model on that host now. */
export async function warmModel(integrationId: string, model: string): Promise<WarmResult> {
  return warmResultFrom(await _request(`/v1/integrations/${_id(integrationId)}/warm`, { method: 'POST', body: { model } }));
}

/** GET /v1/requests, newest first. */
export async function fetchRequests({ limit, signal, ...filter }: RequestFilter & { limit?: number; signal?: AbortSignal } = {}): Promise<RequestEntry[]> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) if (value) query.set(name, value);
  if (limit) query.set('limit', String(limit));
  const qs = query.toString();
  return requestListFrom(await _request(qs ? `/v1/requests?${qs}` : '/v1/requests', { signal }));
}

/** GET /v1/models: the merged catalogue. */
export async function fetchModels(signal?: AbortSignal): Promise<CatalogModel[]> {
  return catalogFrom(await _request('/v1/models', { signal }));
}

/** GET /v1/models/equivalents/suggestions: models that look alike across hosts, for the operator to accept. */
export async function fetchEquivalentSuggestions(signal?: AbortSignal): Promise<EquivalentSuggestion[]> {
  return suggestionsFrom(await _request('/v1/models/equivalents/suggestions', { signal }));
}

/** POST /v1/models/equivalents: one shared name for those models (written to the models file). */
export async function acceptEquivalent(name: string, members: Record<string, string>): Promise<Equivalent> {
  const equivalent = equivalentFrom(await _request('/v1/models/equivalents', { method: 'POST', body: { name, members } }));
  if (!equivalent) throw new ApiError('The Atmosphere API answered without the equivalent', { type: 'invalid_response' });
  return equivalent;
}

/** ws:// or wss:// URL of the live socket on the page's own host, with the API key when there is one. */
export function liveSocketUrl(location: Pick<Location, 'protocol' | 'host'> = window.location, key: string | null = apiKey()): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = `${scheme}//${location.host}/ws`;
  return key ? `${base}?key=${encodeURIComponent(key)}` : base;
}

/** A JSON call to the API for the modules beside this one: the parsed body of a 2xx answer, or an ApiError with the service's message. */
export const apiRequest = _request;
