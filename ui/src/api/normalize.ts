/**
 * Reads the service's JSON into the shapes of `types.ts`, once, where it
 * enters the dashboard (the fetch answers and the socket messages).
 *
 * A field that is missing or of the wrong type becomes `null` (or an empty
 * list), never a guessed value, so components need no guards of their own.
 * An object without the one field that identifies it (an integration without
 * an `id`) is dropped.
 */
import type {
  Attempt,
  Breaker,
  CatalogModel,
  Equivalent,
  EquivalentSuggestion,
  Integration,
  IntegrationList,
  Locality,
  Model,
  Project,
  RequestEntry,
  SocketMessage,
  Stats,
  TestResult,
  WarmResult,
} from './types';

type Json = Record<string, unknown>;

const LOCALITIES: readonly string[] = ['local', 'lan', 'cloud'];

function obj(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The items of `value` that `read` accepts; anything that is not a list is an empty one. */
function listOf<T>(value: unknown, read: (item: unknown) => T | null): T[] {
  if (!Array.isArray(value)) return [];
  const out: T[] = [];
  for (const item of value) {
    const parsed = read(item);
    if (parsed !== null) out.push(parsed);
  }
  return out;
}

export function modelFrom(value: unknown): Model | null {
  const m = obj(value);
  const id = m && str(m.id);
  if (!m || !id) return null;
  const locality = str(m.locality);
  return {
    id,
    name: str(m.name) ?? id,
    family: str(m.family),
    parameter_size: str(m.parameter_size),
    quantization: str(m.quantization),
    size: num(m.size),
    capabilities: strings(m.capabilities),
    project: str(m.project),
    provider: str(m.provider),
    ready: bool(m.ready),
    unavailable_reason: str(m.unavailable_reason),
    locality: locality !== null && LOCALITIES.includes(locality) ? (locality as Locality) : null,
    loaded: bool(m.loaded),
  };
}

function projectFrom(value: unknown): Project | null {
  const p = obj(value);
  const name = p && str(p.name);
  if (!p || !name) return null;
  return {
    namespace: str(p.namespace) ?? '',
    name,
    default_model: str(p.default_model),
    models: strings(p.models),
    validation_error: str(p.validation_error),
  };
}

function breakerFrom(value: unknown): Breaker | null {
  const b = obj(value);
  const state = b && str(b.state);
  if (!b || !state) return null;
  return { state, open_until: num(b.open_until), last_failure: str(b.last_failure), failures: num(b.failures) ?? 0 };
}

function statsFrom(value: unknown): Stats | null {
  const s = obj(value);
  if (!s) return null;
  return {
    p50_ms: num(s.p50_ms),
    p95_ms: num(s.p95_ms),
    requests_per_minute: num(s.requests_per_minute),
    error_rate: num(s.error_rate),
    sparkline: Array.isArray(s.sparkline) ? s.sparkline.map((n) => num(n) ?? 0) : [],
  };
}

export function integrationFrom(value: unknown): Integration | null {
  const i = obj(value);
  const id = i && str(i.id);
  if (!i || !id) return null;
  const models = listOf(i.models, modelFrom);
  return {
    id,
    name: str(i.name) ?? id,
    type: str(i.type) ?? '',
    url: str(i.url) ?? '',
    status: str(i.status) ?? 'unknown',
    error: str(i.error),
    version: str(i.version),
    models,
    model_count: num(i.model_count) ?? models.length,
    capabilities: strings(i.capabilities),
    latency_ms: num(i.latency_ms),
    last_checked: num(i.last_checked),
    // The service always says; a missing flag is read as the default it documents (enabled).
    enabled: i.enabled !== false,
    projects: listOf(i.projects, projectFrom),
    default_model: str(i.default_model),
    priority: num(i.priority),
    removable: bool(i.removable),
    breaker: breakerFrom(i.breaker),
    inflight: num(i.inflight),
    queue_depth: num(i.queue_depth),
    max_inflight: num(i.max_inflight),
    stats: statsFrom(i.stats),
    warmup_supported: i.warmup_supported === true,
    network: i.network === 'loopback' || i.network === 'private' || i.network === 'public' ? i.network : null,
  };
}

export function integrationListFrom(value: unknown): IntegrationList {
  const body = obj(value);
  return { integrations: listOf(body?.integrations, integrationFrom), timestamp: num(body?.timestamp) };
}

/** `{integration}` answers (enable, disable, add); null when the body has none. */
export function oneIntegrationFrom(value: unknown): Integration | null {
  return integrationFrom(obj(value)?.integration);
}

export function testResultFrom(value: unknown): TestResult {
  const r = obj(value) ?? {};
  return {
    success: r.success === true,
    integration_id: str(r.integration_id),
    response: str(r.response),
    model_used: str(r.model_used),
    latency_ms: num(r.latency_ms),
    error: str(r.error),
  };
}

export function warmResultFrom(value: unknown): WarmResult {
  const r = obj(value) ?? {};
  return {
    success: r.success === true,
    integration_id: str(r.integration_id),
    model: str(r.model),
    latency_ms: num(r.latency_ms),
    error: str(r.error),
  };
}

function attemptFrom(value: unknown): Attempt | null {
  const a = obj(value);
  const backend = a && str(a.backend);
  if (!a || !backend) return null;
  return { backend, reason: str(a.reason) ?? '', kind: str(a.kind) ?? 'error' };
}

export function requestEntryFrom(value: unknown): RequestEntry | null {
  const r = obj(value);
  if (!r) return null;
  const id = str(r.id) ?? (num(r.id) !== null ? String(r.id) : null);
  if (!id) return null;
  return {
    id,
    time: num(r.time),
    surface: str(r.surface),
    requested_model: str(r.requested_model),
    backend: str(r.backend),
    model: str(r.model),
    substituted: r.substituted === true,
    attempts: listOf(r.attempts, attemptFrom),
    status: num(r.status),
    outcome: str(r.outcome),
    added_ms: num(r.added_ms),
    upstream_ms: num(r.upstream_ms),
    ttft_ms: num(r.ttft_ms),
    tokens_in: num(r.tokens_in),
    tokens_out: num(r.tokens_out),
    stream: bool(r.stream),
    client: str(r.client),
    reason: str(r.reason),
    agent: str(r.agent),
  };
}

export function requestListFrom(value: unknown): RequestEntry[] {
  return listOf(obj(value)?.requests, requestEntryFrom);
}

function catalogModelFrom(value: unknown): CatalogModel | null {
  const m = obj(value);
  const id = m && str(m.id);
  if (!m || !id) return null;
  return { id, owned_by: str(m.owned_by), created: num(m.created) };
}

/** `GET /v1/models` (OpenAI list shape: `{object: "list", data: [...]}`). */
export function catalogFrom(value: unknown): CatalogModel[] {
  return listOf(obj(value)?.data, catalogModelFrom);
}

/** A `/ws` message the dashboard acts on, or null for anything else. */
export function socketMessageFrom(value: unknown): SocketMessage | null {
  const m = obj(value);
  if (!m) return null;
  switch (m.type) {
    case 'snapshot': {
      if (!Array.isArray(m.integrations)) return null;
      const { integrations, timestamp } = integrationListFrom(m);
      return { type: 'snapshot', integrations, timestamp };
    }
    case 'integration': {
      const integration = integrationFrom(m.integration);
      return integration ? { type: 'integration', integration } : null;
    }
    case 'request': {
      const request = requestEntryFrom(m.request);
      return request ? { type: 'request', request } : null;
    }
    case 'ping':
      return { type: 'ping' };
    default:
      return null;
  }
}

function membersFrom(value: unknown): Record<string, string> {
  const m = obj(value) ?? {};
  const out: Record<string, string> = {};
  for (const [host, native] of Object.entries(m)) if (typeof native === 'string') out[host] = native;
  return out;
}

function suggestionFrom(value: unknown): EquivalentSuggestion | null {
  const s = obj(value);
  const name = s && str(s.name);
  if (!s || !name) return null;
  const members = membersFrom(s.members);
  return Object.keys(members).length >= 2 ? { name, members, reason: str(s.reason) } : null;
}

export function suggestionsFrom(value: unknown): EquivalentSuggestion[] {
  return listOf(obj(value)?.suggestions, suggestionFrom);
}

export function equivalentFrom(value: unknown): Equivalent | null {
  const e = obj(obj(value)?.equivalent);
  const name = e && str(e.name);
  return e && name ? { name, members: membersFrom(e.members) } : null;
}

/** The field readers, for the modules that read the keys and usage answers (api/keys.ts, api/usage.ts). */
export { obj, str, num, bool, strings, listOf };
