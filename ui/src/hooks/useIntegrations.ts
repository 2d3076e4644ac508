import { useCallback, useEffect, useState } from 'react';
import {
  addIntegration,
  fetchIntegrations,
  isAbort,
  liveSocketUrl,
  removeIntegration,
  reorderIntegrations,
  setIntegrationEnabled,
  warmModel,
} from '../api/client';
import type { Integration, NewHost, SocketMessage, WarmResult } from '../api/types';
import { useAbortable } from './useAbortable';
import { useApiKey } from './useApiKey';
import { useLiveSocket } from './useLiveSocket';

/** How often the list is fetched while the live socket is down (never while it is up). */
export const POLL_INTERVAL_MS = 30000;

export type Phase = 'loading' | 'ready' | 'error';

/**
 * `integration` in place of the card of its id, unless the card we hold comes from a later probe:
 * an action's answer (a host just added: "not probed yet") can arrive after the socket's message
 * with that host's first probe, and must not put the card back to before it.
 */
export function upsertIntegration(list: Integration[], integration: Integration): Integration[] {
  const index = list.findIndex((item) => item.id === integration.id);
  if (index === -1) return [...list, integration];
  const held = list[index].last_checked;
  if (held !== null && (integration.last_checked === null || integration.last_checked < held)) return list;
  const next = list.slice();
  next[index] = integration;
  return next;
}

/**
 * The integrations as the service reports them.
 *
 * Sources, all of which simply replace what we hold unless it is from a later
 * probe (the UI never guesses a status): the initial GET, the socket's snapshot and per-integration
 * messages, a GET every `pollMs` while the socket is down, rescans, and the
 * objects the actions answer with.
 *
 * `phase` is "loading" until the first answer, "ready" once we have data and
 * "error" if the API could not be reached before we had any data. `error` is
 * the last failed request's error (cleared by the next success).
 */
export function useIntegrations({ pollMs = POLL_INTERVAL_MS, socketUrl }: { pollMs?: number; socketUrl?: string } = {}) {
  const { key } = useApiKey();
  const [integrations, setIntegrations] = useState<Integration[]>([]);
  const [phase, setPhase] = useState<Phase>('loading');
  const [error, setError] = useState<Error | null>(null);
  const [rescanning, setRescanning] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const abortable = useAbortable();

  const acceptList = useCallback((list: Integration[], timestamp: number | null) => {
    setIntegrations(list);
    setUpdatedAt(timestamp ?? Date.now() / 1000);
    setPhase('ready');
    setError(null);
  }, []);

  const acceptOne = useCallback((integration: Integration) => {
    setIntegrations((list) => upsertIntegration(list, integration));
    setUpdatedAt(Date.now() / 1000);
  }, []);

  const handleMessage = useCallback(
    (message: SocketMessage) => {
      if (message.type === 'snapshot') acceptList(message.integrations, message.timestamp);
      if (message.type === 'integration') acceptOne(message.integration);
    },
    [acceptList, acceptOne],
  );

  const { state: liveState, send } = useLiveSocket(socketUrl ?? liveSocketUrl(window.location, key), handleMessage);

  const load = useCallback(
    async ({ refresh = false }: { refresh?: boolean } = {}): Promise<boolean> => {
      try {
        const data = await abortable((signal) => fetchIntegrations({ refresh, signal }));
        acceptList(data.integrations, data.timestamp);
        return true;
      } catch (err) {
        if (isAbort(err)) return false;
        setError(err instanceof Error ? err : new Error(String(err)));
        setPhase((current) => (current === 'ready' ? current : 'error'));
        return false;
      }
    },
    [abortable, acceptList],
  );

  // Load at start and again when a (new) API key is entered.
  useEffect(() => {
    void load();
  }, [load, key]);

  // The socket's messages keep the list current while it is open; poll only while it is not.
  useEffect(() => {
    if (!pollMs || liveState === 'live') return undefined;
    const timer = setInterval(() => void load(), pollMs);
    return () => clearInterval(timer);
  }, [load, pollMs, liveState]);

  const retry = useCallback(() => {
    setPhase((current) => (current === 'error' ? 'loading' : current));
    return load();
  }, [load]);

  /** Ask the service to scan now; the answer (or the socket) updates the cards. */
  const rescan = useCallback(async () => {
    setRescanning(true);
    const ok = await load({ refresh: true });
    if (!ok) send({ type: 'refresh' });
    setRescanning(false);
  }, [load, send]);

  /** Enable or disable one integration; resolves with the updated object, rejects with ApiError. */
  const setEnabled = useCallback(
    async (id: string, enabled: boolean) => {
      const integration = await setIntegrationEnabled(id, enabled);
      acceptOne(integration);
      return integration;
    },
    [acceptOne],
  );

  const add = useCallback(
    async (host: NewHost) => {
      const integration = await addIntegration(host);
      acceptOne(integration);
      return integration;
    },
    [acceptOne],
  );

  const remove = useCallback(async (id: string) => {
    await removeIntegration(id);
    setIntegrations((list) => list.filter((item) => item.id !== id));
  }, []);

  const reorder = useCallback(
    async (order: string[]) => {
      const list = await reorderIntegrations(order);
      acceptList(list, null);
    },
    [acceptList],
  );

  const warm = useCallback((id: string, model: string): Promise<WarmResult> => warmModel(id, model), []);

  return { integrations, phase, error, rescanning, updatedAt, liveState, rescan, retry, setEnabled, add, remove, reorder, warm };
}
