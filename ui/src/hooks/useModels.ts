import { useEffect, useState } from 'react';
import { errorMessage, fetchModels, isAbort } from '../api/client';
import type { CatalogModel } from '../api/types';
import { useApiKey } from './useApiKey';

/** The merged model catalogue (`GET /v1/models`), loaded once per page and again with a new key. */
export function useModels() {
  const { key } = useApiKey();
  const [models, setModels] = useState<CatalogModel[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    fetchModels(controller.signal)
      .then((list) => {
        setModels(list);
        setError(null);
      })
      .catch((err: unknown) => {
        if (!isAbort(err)) setError(errorMessage(err));
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [key]);

  return { models, error, loading };
}
