import { useCallback, useState } from 'react';
import { errorMessage } from '../api/client';

/**
 * What a form or a row of buttons is doing: `running` names the action under way
 * (null when idle; `pending` says whether any is), and `error` holds what the service
 * answered when the last one failed, for the form to show. `run` resolves true when
 * the action succeeded, so the caller can close or reset the form.
 */
export function useAction() {
  const [running, setRunning] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const run = useCallback(async (action: () => Promise<unknown>, name = 'action'): Promise<boolean> => {
    setRunning(name);
    setError(null);
    try {
      await action();
      return true;
    } catch (err) {
      setError(errorMessage(err));
      return false;
    } finally {
      setRunning(null);
    }
  }, []);

  return { running, pending: running !== null, error, run };
}
