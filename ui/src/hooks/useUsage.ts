import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, liveSocketUrl } from '../api/client';
import type { SocketMessage } from '../api/types';
import { fetchUsage, type Bucket, type GroupBy, type UsageReport } from '../api/usage';
import { loadFailed, type LoadPhase } from './loadFailed';
import { useApiKey } from './useApiKey';
import { useLiveSocket } from './useLiveSocket';

/** New requests on /ws bring a fresh report at most this often (a busy gateway sends many). */
export const LIVE_REFRESH_MS = 3000;

/** 'unrecorded': the service has no history to read (its database could not be opened: 503). */
export type UsagePhase = LoadPhase | 'unrecorded';

export interface UsageSelection {
  /** How far back from now, in milliseconds. */
  span: number;
  bucket: Bucket;
  group_by: GroupBy;
}

/**
 * The usage report for the chosen range, fetched again when the choice changes and,
 * while the page is open, shortly after each live request the socket reports.
 */
export function useUsage(selection: UsageSelection, { socketUrl }: { socketUrl?: string } = {}) {
  const { key } = useApiKey();
  const [report, setReport] = useState<UsageReport | null>(null);
  const [phase, setPhase] = useState<UsagePhase>('loading');
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const { span, bucket, group_by } = selection;

  const refresh = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    const to = new Date();
    fetchUsage({ from: new Date(to.getTime() - span), to, bucket, group_by }, controller.signal)
      .then((answer) => {
        setReport(answer);
        setError(null);
        setPhase('ready');
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 503) {
          setReport(null);
          setError(err.message);
          setPhase('unrecorded');
        } else loadFailed(err, setPhase, setError);
      });
    return () => controller.abort();
  }, [span, bucket, group_by, key, generation]);

  const onMessage = useCallback(
    (message: SocketMessage) => {
      if (message.type !== 'request' || timer.current !== null) return;
      timer.current = setTimeout(() => {
        timer.current = null;
        refresh();
      }, LIVE_REFRESH_MS);
    },
    [refresh],
  );
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  const { state: liveState } = useLiveSocket(socketUrl ?? liveSocketUrl(window.location, key), onMessage);
  return { report, phase, error, liveState, refresh };
}
