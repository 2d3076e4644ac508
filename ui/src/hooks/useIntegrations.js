import { useCallback, useEffect, useRef, useState } from 'react';
import { fetchIntegrations, liveSocketUrl, setIntegrationEnabled } from '../api/client.js';
import { useLiveSocket } from './useLiveSocket.js';

export const POLL_INTERVAL_MS = 30000;

function _upsert(list, integration) {
  const index = list.findIndex((item) => item.id === integration.id);
  if (index === -1) return [...list, integration];
  const next = list.slice();
  next[index] = integration;
  return next;
}

/**
 * The integrations as the service reports them.
 *
 * Sources, all of which simply replace what we hold (the UI never guesses a
 * status): the initial GET, a GET every `pollMs` as a safety net, the
 * socket's snapshot and per-integration messages, rescans, and the objects
 * returned by enable/disable.
 *
 * `phase` is "loading" until the first answer, "ready" once we have data and
 * "error" if the API could not be reached before we had any data. `error` is
 * the last failed request's ApiError (cleared by the next success).
 */
export function useIntegrations({ pollMs = POLL_INTERVAL_MS, socketUrl } = {}) {
  const [integrations, setIntegrations] = useState([]);
  const [phase, setPhase] = useState('loading');
  const [error, setError] = useState(null);
  const [rescanning, setRescanning] = useState(false);
  const [updatedAt, setUpdatedAt] = useState(null);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const acceptList = useCallback((list, timestamp) => {
    setIntegrations(Array.isArray(list) ? list : []);
    setUpdatedAt(typeof timestamp === 'number' ? timestamp : Date.now() / 1000);
    setPhase('ready');
    setError(null);
  }, []);

  const acceptOne = useCallback((integration) => {
    if (!integration || typeof integration.id !== 'string') return;
    setIntegrations((list) => _upsert(list, integration));
    setUpdatedAt(Date.now() / 1000);
  }, []);

  const handleMessage = useCallback(
    (message) => {
      if (message.type === 'snapshot' && Array.isArray(message.integrations)) {
        acceptList(message.integrations, message.timestamp);
      }
      if (message.type === 'integration') acceptOne(message.integration);
      // "ping" and unknown types need no action.
    },
    [acceptList, acceptOne],
  );

  const { state: liveState, send } = useLiveSocket(socketUrl ?? liveSocketUrl(), handleMessage);

  const load = useCallback(
    async ({ refresh = false } = {}) => {
      try {
        const data = await fetchIntegrations({ refresh });
        if (mounted.current) acceptList(data.integrations, data.timestamp);
        return true;
      } catch (err) {
        if (mounted.current) {
          setError(err);
          setPhase((current) => (current === 'loading' || current === 'error' ? 'error' : current));
        }
        return false;
      }
    },
    [acceptList],
  );

  useEffect(() => {
    load();
    if (!pollMs) return undefined;
    const timer = setInterval(() => load(), pollMs);
    return () => clearInterval(timer);
  }, [load, pollMs]);

  const retry = useCallback(() => {
    setPhase((current) => (current === 'error' ? 'loading' : current));
    return load();
  }, [load]);

  /** Ask the service to scan now; the answer (or the socket) updates the cards. */
  const rescan = useCallback(async () => {
    setRescanning(true);
    const ok = await load({ refresh: true });
    if (!ok) send({ type: 'refresh' });
    if (mounted.current) setRescanning(false);
  }, [load, send]);

  /** Enable or disable one integration; resolves with the updated object, rejects with ApiError. */
  const setEnabled = useCallback(
    async (id, enabled) => {
      const data = await setIntegrationEnabled(id, enabled);
      if (mounted.current && data && data.integration) acceptOne(data.integration);
      return data.integration;
    },
    [acceptOne],
  );

  return { integrations, phase, error, rescanning, updatedAt, liveState, rescan, retry, setEnabled };
}
