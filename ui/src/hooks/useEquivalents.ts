import { useCallback, useEffect, useState } from 'react';
import { ApiError, acceptEquivalent, fetchEquivalentSuggestions, isAbort } from '../api/client';
import type { Equivalent, EquivalentSuggestion } from '../api/types';
import { useAbortable } from './useAbortable';
import { useApiKey } from './useApiKey';

/**
 * Equivalents the service suggests (same family, size and quantization on
 * different hosts) and the ones accepted here. Nothing is substituted until
 * the operator accepts. `available` is false on a gateway without the endpoint
 * or when it cannot be read: the page then shows nothing.
 */
export function useEquivalents(reloadKey: string) {
  const { key } = useApiKey();
  const [suggestions, setSuggestions] = useState<EquivalentSuggestion[]>([]);
  const [accepted, setAccepted] = useState<Equivalent[]>([]);
  const [available, setAvailable] = useState(false);
  const abortable = useAbortable();

  const load = useCallback(async () => {
    try {
      setSuggestions(await abortable((signal) => fetchEquivalentSuggestions(signal)));
      setAvailable(true);
    } catch (err) {
      if (isAbort(err)) return;
      if (err instanceof ApiError) setAvailable(false);
    }
  }, [abortable]);

  // Reload when the hosts or their models change (the caller's key) or a new API key arrives.
  useEffect(() => {
    void load();
  }, [load, key, reloadKey]);

  const accept = useCallback(
    async (name: string, members: Record<string, string>) => {
      const equivalent = await acceptEquivalent(name, members);
      setAccepted((list) => [...list, equivalent]);
      await load();
      return equivalent;
    },
    [load],
  );

  return { suggestions, accepted, available, accept };
}
