import type { ReactNode } from 'react';
import './Page.css';

interface LoadNotesProps {
  /** The page's load phase; these notes speak only for 'unavailable' and 'error'. */
  phase: string;
  error: ReactNode;
  /** Names the unavailable note for the tests: data-testid="<name>-unavailable". */
  name: string;
  /** What this Atmosphere lacks, e.g. "keeps no usage history". */
  lacks: string;
  /** The endpoint whose absence says so, e.g. "/v1/usage". */
  endpoint: string;
  /** What could not be loaded, e.g. "the keys". */
  what: string;
}

/**
 * What a page says when the service it reads has no such endpoint (an older or
 * smaller Atmosphere answers 404) or the load failed.
 */
export default function LoadNotes({ phase, error, name, lacks, endpoint, what }: LoadNotesProps) {
  if (phase === 'unavailable') {
    return (
      <p className="page-note" data-testid={`${name}-unavailable`}>
        This Atmosphere {lacks} (its API has no <code>{endpoint}</code>).
      </p>
    );
  }
  if (phase === 'error') {
    return (
      <p className="page-note error" role="alert" data-testid="api-error">
        Could not load {what}: {error}
      </p>
    );
  }
  return null;
}
