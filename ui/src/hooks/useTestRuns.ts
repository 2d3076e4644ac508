import { useCallback, useState } from 'react';
import { errorMessage, isAbort, runIntegrationTest } from '../api/client';
import { useAbortable } from './useAbortable';

export const KEEP_RUNS = 3;

/** One test prompt and what the service answered (or why the request failed). */
export interface TestRun {
  key: number;
  prompt: string;
  requestedModel: string | null;
  startedAt: number;
  success: boolean;
  response: string | null;
  modelUsed: string | null;
  latencyMs: number | null;
  error: string | null;
}

let _nextKey = 1;

/**
 * Runs test prompts against one integration and keeps the last `keep`
 * results, newest first, so they can be compared side by side.
 *
 * When the request itself fails (404, 400, network) the run is a failure
 * carrying the API's error message and no latency.
 */
export function useTestRuns(integrationId: string, { keep = KEEP_RUNS }: { keep?: number } = {}) {
  const [runs, setRuns] = useState<TestRun[]>([]);
  const [running, setRunning] = useState(false);
  const abortable = useAbortable();

  const run = useCallback(
    async ({ prompt, model }: { prompt: string; model?: string }): Promise<TestRun | null> => {
      const base = { key: _nextKey++, prompt, requestedModel: model || null, startedAt: Date.now() };
      setRunning(true);
      let entry: TestRun;
      try {
        const r = await abortable((signal) => runIntegrationTest({ integrationId, prompt, model }, signal));
        entry = { ...base, success: r.success, response: r.response, modelUsed: r.model_used, latencyMs: r.latency_ms, error: r.error };
      } catch (err) {
        if (isAbort(err)) return null; // the card is gone
        entry = { ...base, success: false, response: null, modelUsed: null, latencyMs: null, error: errorMessage(err) };
      }
      setRuns((previous) => [entry, ...previous].slice(0, keep));
      setRunning(false);
      return entry;
    },
    [abortable, integrationId, keep],
  );

  const clear = useCallback(() => setRuns([]), []);

  return { runs, running, run, clear };
}
