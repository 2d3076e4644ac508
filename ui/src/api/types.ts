/**
 * The Atmosphere API's shapes, as the dashboard holds them after
 * `normalize.ts` has read them. Every value the service may leave out is
 * `null` here (never guessed): the UI shows what the API says and nothing else.
 */

/** Status words the dashboard knows how to colour; any other word is shown verbatim. */
export const KNOWN_STATUSES = ['healthy', 'degraded', 'offline', 'error'] as const;
export type KnownStatus = (typeof KNOWN_STATUSES)[number];

/** Whether a host with this status takes work (the service's ROUTABLE): healthy, or degraded (some models not ready). */
export function takesWork(status: string): boolean {
  return status === 'healthy' || status === 'degraded';
}

export type Locality = 'local' | 'lan' | 'cloud';

/** One model an integration can serve (items of `integration.models`). */
export interface Model {
  id: string;
  name: string;
  family: string | null;
  parameter_size: string | null;
  quantization: string | null;
  size: number | null;
  capabilities: string[];
  /** LlamaFarm: "namespace/project" that defines this model. */
  project: string | null;
  /** LlamaFarm: universal | ollama | openai ... (never its settings or secrets). */
  provider: string | null;
  /** Whether what serves this model answers now; null when the service does not say. */
  ready: boolean | null;
  unavailable_reason: string | null;
  locality: Locality | null;
  /** Resident in memory on its host right now. */
  loaded: boolean | null;
}

/** A LlamaFarm project (items of `integration.projects`). */
export interface Project {
  namespace: string;
  name: string;
  default_model: string | null;
  models: string[];
  validation_error: string | null;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The passive-health circuit breaker of one integration. */
export interface Breaker {
  state: BreakerState | string;
  /** Epoch seconds. */
  open_until: number | null;
  last_failure: string | null;
  failures: number;
}

/** Traffic over the last 15 minutes. */
export interface Stats {
  p50_ms: number | null;
  p95_ms: number | null;
  requests_per_minute: number | null;
  /** 0..1 */
  error_rate: number | null;
  /** 15 per-minute request counts, oldest first. */
  sparkline: number[];
}

/** One configured backend host, as `GET /v1/integrations` and `/ws` describe it. */
export interface Integration {
  id: string;
  name: string;
  /** Backend kind: "llamafarm" | "ollama" (others shown verbatim). */
  type: string;
  url: string;
  status: string;
  error: string | null;
  version: string | null;
  models: Model[];
  model_count: number;
  capabilities: string[];
  latency_ms: number | null;
  /** Epoch seconds of the last probe. */
  last_checked: number | null;
  enabled: boolean;
  projects: Project[];
  default_model: string | null;
  priority: number | null;
  /** Added from the dashboard, so it can be removed there; null when the service does not manage hosts. */
  removable: boolean | null;
  breaker: Breaker | null;
  inflight: number | null;
  queue_depth: number | null;
  max_inflight: number | null;
  stats: Stats | null;
  warmup_supported: boolean;
  /** Which network the host is on, from its URL: this machine, a private range or name, or public. */
  network: Network | null;
}

export type Network = 'loopback' | 'private' | 'public';

export interface IntegrationList {
  integrations: Integration[];
  /** Epoch seconds when the service answered. */
  timestamp: number | null;
}

/** The answer of `POST /v1/integrations/test`. */
export interface TestResult {
  success: boolean;
  integration_id: string | null;
  response: string | null;
  model_used: string | null;
  latency_ms: number | null;
  error: string | null;
}

/** The answer of `POST /v1/integrations/{id}/warm`. */
export interface WarmResult {
  success: boolean;
  integration_id: string | null;
  model: string | null;
  latency_ms: number | null;
  error: string | null;
}

/** A backend tried (or skipped) before the one that served, and why. */
export interface Attempt {
  backend: string;
  reason: string;
  kind: string;
}

export type Outcome = 'ok' | 'fallback' | 'error';

/** One entry of the recent-requests log (`GET /v1/requests`, `/ws` "request"). */
export interface RequestEntry {
  id: string;
  /** Epoch seconds. */
  time: number | null;
  surface: string | null;
  requested_model: string | null;
  backend: string | null;
  model: string | null;
  substituted: boolean;
  attempts: Attempt[];
  status: number | null;
  outcome: Outcome | string | null;
  added_ms: number | null;
  upstream_ms: number | null;
  ttft_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  stream: boolean | null;
  client: string | null;
  /** Why it failed or was refused, in one line; null when it was served. */
  reason: string | null;
  /** The caller's User-Agent (`claude-cli/2.1.197 (external, sdk-cli)`): which tool sent it. */
  agent: string | null;
}

export interface RequestFilter {
  backend?: string;
  model?: string;
  outcome?: string;
}

/** One model of the merged catalogue (`GET /v1/models`). */
export interface CatalogModel {
  id: string;
  owned_by: string | null;
  created: number | null;
}

/** Messages on `/ws` that the dashboard acts on. */
export type SocketMessage =
  | { type: 'snapshot'; integrations: Integration[]; timestamp: number | null }
  | { type: 'integration'; integration: Integration }
  | { type: 'request'; request: RequestEntry }
  | { type: 'ping' };

/** What a new host needs (`POST /v1/integrations`). */
export interface NewHost {
  kind: 'ollama' | 'llamafarm';
  name: string;
  url: string;
  runtime_url?: string;
}

/** A chat message as the OpenAI chat API carries it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Models on different hosts that look like one model (`GET /v1/models/equivalents/suggestions`). */
export interface EquivalentSuggestion {
  name: string;
  /** integration id -> that host's native model name */
  members: Record<string, string>;
  reason: string | null;
}

/** A shared name the operator accepted (`POST /v1/models/equivalents`). */
export interface Equivalent {
  name: string;
  members: Record<string, string>;
}
