import { useCallback, useEffect, useState } from 'react';
import { createKey, fetchKeys, revokeKey, updateKey, type ClientKey, type KeyDraft, type NewClientKey } from '../api/keys';
import { loadFailed, type LoadPhase } from './loadFailed';
import { useAbortable } from './useAbortable';
import { useApiKey } from './useApiKey';

export type KeysPhase = LoadPhase;

/**
 * The client keys, and the calls that change them. Each call puts the key the service
 * answered with into the list (so a revoke shows at once, as the service has it);
 * a failed call rejects with the service's message for the form that made it.
 */
export function useKeys() {
  const { key } = useApiKey();
  const run = useAbortable();
  const [keys, setKeys] = useState<ClientKey[]>([]);
  const [phase, setPhase] = useState<KeysPhase>('loading');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    fetchKeys(controller.signal)
      .then((list) => {
        setKeys(list);
        setError(null);
        setPhase('ready');
      })
      .catch((err: unknown) => loadFailed(err, setPhase, setError));
    return () => controller.abort();
  }, [key]);

  const put = useCallback((changed: ClientKey) => {
    setKeys((list) => (list.some((k) => k.id === changed.id) ? list.map((k) => (k.id === changed.id ? changed : k)) : [changed, ...list]));
  }, []);

  const create = useCallback(
    async (draft: KeyDraft): Promise<NewClientKey> => {
      const created = await run((signal) => createKey(draft, signal));
      const { secret: _secret, ...listed } = created; // the list never holds a secret
      put(listed);
      return created;
    },
    [run, put],
  );

  const update = useCallback(
    async (id: string, change: Partial<KeyDraft>): Promise<ClientKey> => {
      const changed = await run((signal) => updateKey(id, change, signal));
      put(changed);
      return changed;
    },
    [run, put],
  );

  const revoke = useCallback(
    async (id: string): Promise<ClientKey> => {
      const revoked = await run((signal) => revokeKey(id, signal));
      put(revoked);
      return revoked;
    },
    [run, put],
  );

  return { keys, phase, error, create, update, revoke };
}
