import { Layers } from 'lucide-react';
import type { Integration } from '../api/types';
import './QueueState.css';

/** Requests running on this host now against its limit, and how many wait in its queue. */
export default function QueueState({ integration }: { integration: Integration }) {
  const { inflight, max_inflight: max, queue_depth: queued } = integration;
  if (inflight === null && queued === null) return null;
  const full = inflight !== null && max !== null && inflight >= max;
  return (
    <p className={`queue-state${full ? ' full' : ''}`} data-testid="queue-state">
      <Layers size={14} aria-hidden="true" />
      <span>
        <strong data-testid="queue-inflight">
          {inflight ?? '—'}
          {max !== null ? `/${max}` : ''}
        </strong>{' '}
        in flight
        {queued !== null ? (
          <>
            {' · '}
            <strong data-testid="queue-depth">{queued}</strong> queued
          </>
        ) : null}
      </span>
    </p>
  );
}
