import { useState } from 'react';
import { ArrowDown, ArrowUp, LoaderCircle, Plug, Trash2, Unplug } from 'lucide-react';
import type { Integration } from '../api/types';
import { useAction } from '../hooks/useAction';
import { FormError } from './FormParts';
import './CardActions.css';

export interface CardActionHandlers {
  onSetEnabled: (id: string, enabled: boolean) => Promise<unknown>;
  /** Move one place up (-1) or down (+1) in priority; absent when that move is not possible. */
  onMoveUp?: () => Promise<unknown>;
  onMoveDown?: () => Promise<unknown>;
  /** Offered only for hosts added from the dashboard (`removable`). */
  onRemove?: (id: string) => Promise<unknown>;
}

/** Connect/Disconnect, move up/down in priority, and remove (which asks first). */
export default function CardActions({ integration, onSetEnabled, onMoveUp, onMoveDown, onRemove }: { integration: Integration } & CardActionHandlers) {
  const { running: pending, error: actionError, run: act } = useAction();
  const [confirming, setConfirming] = useState(false);
  const { id, name, enabled } = integration;

  const ToggleIcon = pending === 'toggle' ? LoaderCircle : enabled ? Unplug : Plug;
  const canRemove = integration.removable === true && onRemove !== undefined;

  return (
    <footer className="integration-actions">
      <FormError error={actionError} />
      {confirming && onRemove ? (
        <div className="strip tone-danger remove-confirm" role="group" aria-label={`Remove ${name}?`} data-testid="remove-confirm">
          <span>Remove {name}? Atmosphere stops routing to it and forgets it.</span>
          <button type="button" className="button outline tone-danger" data-testid="remove-confirm-button" disabled={pending !== null} onClick={() => void act(() => onRemove(id), 'remove')}>
            {pending === 'remove' ? <LoaderCircle size={16} className="spin" /> : <Trash2 size={16} />} Remove
          </button>
          <button type="button" className="button outline" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : null}
      <div className="integration-action-row">
        {onMoveUp || onMoveDown ? (
          <span className="move-buttons">
            <button type="button" className="button outline icon" data-testid="move-up" aria-label={`Move ${name} up in priority`} disabled={!onMoveUp || pending !== null} onClick={() => onMoveUp && void act(onMoveUp, 'move')}>
              <ArrowUp size={16} />
            </button>
            <button type="button" className="button outline icon" data-testid="move-down" aria-label={`Move ${name} down in priority`} disabled={!onMoveDown || pending !== null} onClick={() => onMoveDown && void act(onMoveDown, 'move')}>
              <ArrowDown size={16} />
            </button>
          </span>
        ) : null}
        {canRemove && !confirming ? (
          <button type="button" className="button outline" data-testid="remove-button" aria-label={`Remove ${name}`} onClick={() => setConfirming(true)}>
            <Trash2 size={16} /> Remove
          </button>
        ) : null}
        <button
          type="button"
          className={`button outline ${enabled ? 'disconnect' : 'tone-healthy'}`}
          data-testid={enabled ? 'disconnect-button' : 'connect-button'}
          onClick={() => void act(() => onSetEnabled(id, !enabled), 'toggle')}
          disabled={pending !== null}
          aria-busy={pending === 'toggle'}
          aria-label={enabled ? `Disconnect ${name}` : `Connect ${name}`}
        >
          <ToggleIcon size={16} className={pending === 'toggle' ? 'spin' : undefined} />
          {enabled ? 'Disconnect' : 'Connect'}
        </button>
      </div>
    </footer>
  );
}
