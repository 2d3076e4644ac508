import { ShieldAlert, ShieldCheck, ShieldQuestion } from 'lucide-react';
import type { Breaker } from '../api/types';
import { toDate } from '../format';
import RelativeTime from './RelativeTime';
import './BreakerState.css';

const LABELS: Record<string, string> = { closed: 'closed', open: 'open', half_open: 'half-open' };

/**
 * The circuit breaker as the API reports it: closed, open until a time (the
 * backend is skipped until then), or half-open (one trial request goes
 * through), with the last failure that counted.
 */
export default function BreakerState({ breaker }: { breaker: Breaker | null }) {
  if (!breaker) return null;
  const { state, open_until: openUntil, last_failure: lastFailure, failures } = breaker;
  const Icon = state === 'closed' ? ShieldCheck : state === 'open' ? ShieldAlert : ShieldQuestion;
  const until = toDate(openUntil);
  return (
    <div className={`inset breaker-state ${state}`} data-testid="breaker" data-state={state}>
      <p className="breaker-line">
        <Icon size={14} aria-hidden="true" />
        <span>
          Breaker <strong>{LABELS[state] ?? state}</strong>
          {state === 'open' && until ? (
            <>
              {' '}
              until <span data-testid="breaker-until">{until.toLocaleTimeString()}</span> (<RelativeTime seconds={openUntil} />)
            </>
          ) : null}
          {state === 'half_open' ? ': one trial request goes through' : null}
          {failures > 0 ? ` · ${failures} ${failures === 1 ? 'failure' : 'failures'} in a row` : null}
        </span>
      </p>
      {lastFailure && state !== 'closed' ? (
        <p className="breaker-failure" data-testid="breaker-last-failure">
          Last failure: {lastFailure}
        </p>
      ) : null}
    </div>
  );
}
