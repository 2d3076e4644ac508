import { useCallback, useEffect, useRef, useState } from 'react';
import { fetchRequests, liveSocketUrl } from '../api/client';
import type { RequestEntry, SocketMessage } from '../api/types';
import { loadFailed, type LoadPhase } from './loadFailed';
import { useApiKey } from './useApiKey';
import { useLiveSocket } from './useLiveSocket';

/** The service keeps the last 500; so does the page. */
export const KEEP_REQUESTS = 500;

export type RequestsPhase = LoadPhase;

/**
 * The recent-requests log, live: the service's last entries, then each
 * `/ws` "request" message, newest first. While `paused` (the person is
 * scrolling through it), new entries wait aside and `waiting` counts them;
 * `resume` puts them on top.
 */
export function useRequests({ socketUrl }: { socketUrl?: string } = {}) {
  const { key } = useApiKey();
  const [entries, setEntries] = useState<RequestEntry[]>([]);
  const [phase, setPhase] = useState<RequestsPhase>('loading');
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const [waiting, setWaiting] = useState(0);
  const pausedRef = useRef(false);
  const held = useRef<RequestEntry[]>([]);

  const prepend = useCallback((fresh: RequestEntry[]) => {
    setEntries((list) => {
      const seen = new Set(fresh.map((e) => e.id));
      return [...fresh, ...list.filter((e) => !seen.has(e.id))].slice(0, KEEP_REQUESTS);
    });
  }, []);

  const onMessage = useCallback(
    (message: SocketMessage) => {
      if (message.type !== 'request') return;
      if (pausedRef.current) {
        held.current = [message.request, ...held.current].slice(0, KEEP_REQUESTS);
        setWaiting(held.current.length);
      } else {
        prepend([message.request]);
      }
    },
    [prepend],
  );

  const { state: liveState } = useLiveSocket(socketUrl ?? liveSocketUrl(window.location, key), onMessage);

  useEffect(() => {
    const controller = new AbortController();
    fetchRequests({ limit: KEEP_REQUESTS, signal: controller.signal })
      .then((list) => {
        // Entries that arrived on the socket meanwhile are newer: keep them on top.
        setEntries((live) => {
          const seen = new Set(live.map((e) => e.id));
          return [...live, ...list.filter((e) => !seen.has(e.id))].slice(0, KEEP_REQUESTS);
        });
        setPhase('ready');
        setError(null);
      })
      .catch((err: unknown) => loadFailed(err, setPhase, setError)); // no request log: 'unavailable'
    return () => controller.abort();
  }, [key]);

  const pause = useCallback(() => {
    pausedRef.current = true;
    setPaused(true);
  }, []);

  const resume = useCallback(() => {
    pausedRef.current = false;
    setPaused(false);
    prepend(held.current);
    held.current = [];
    setWaiting(0);
  }, [prepend]);

  return { entries, phase, error, liveState, paused, waiting, pause, resume };
}
