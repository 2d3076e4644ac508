import { useCallback, useEffect, useRef, useState } from 'react';
import { runIntegrationTest } from '../api/client.js';

export const KEEP_RUNS = 3;

let _nextKey = 1;

/**
 * Runs test prompts against one integration and keeps the last `keep`
 * results, newest first, so they can be compared side by side.
 *
 * A run is what the service answered: `success`, `response`, `modelUsed`,
 * `latencyMs`, `error`. When the request itself fails (404, 400, network)
 * the run is a failure carrying the API's error message and no latency.
 */
export function useTestRuns(integrationId, { keep = KEEP_RUNS } = {}) {
  const [runs, setRuns] = useState([]);
  const [running, setRunning] = useState(false);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async ({ prompt, model }) => {
      const base = { key: _nextKey++, prompt, requestedModel: model || null, startedAt: Date.now() };
      setRunning(true);
      let entry;
      try {
        const r = await runIntegrationTest({ integrationId, prompt, model });
        entry = {
          ...base,
          success: r.success === true,
          response: r.response ?? null,
          modelUsed: r.model_used ?? null,
          latencyMs: typeof r.latency_ms === 'number' ? r.latency_ms : null,
          error: r.error ?? null,
        };
      } catch (err) {
        entry = {
          ...base,
          success: false,
          response: null,
          modelUsed: null,
          latencyMs: null,
          error: err && err.message ? err.message : String(err),
        };
      }
      if (!mounted.current) return entry;
      setRuns((previous) => [entry, ...previous].slice(0, keep));
      setRunning(false);
      return entry;
    },
    [integrationId, keep],
  );

  const clear = useCallback(() => setRuns([]), []);

  return { runs, running, run, clear };
}
