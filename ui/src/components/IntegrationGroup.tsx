import { takesWork, type Integration, type WarmResult } from '../api/types';
import { kindLabel, moveWithinKind } from '../api/order';
import IntegrationCard from './IntegrationCard';
import './IntegrationGroup.css';

interface Props {
  kind: string;
  members: Integration[];
  /** Every integration, for computing a move's new global order. */
  all: Integration[];
  stale: boolean;
  onSetEnabled: (id: string, enabled: boolean) => Promise<unknown>;
  onReorder?: (order: string[]) => Promise<unknown>;
  onRemove?: (id: string) => Promise<unknown>;
  onWarm?: (id: string, model: string) => Promise<WarmResult>;
}

/** The integrations of one kind, in priority order, each with up/down when the service keeps an order. */
export default function IntegrationGroup({ kind, members, all, stale, onSetEnabled, onReorder, onRemove, onWarm }: Props) {
  const ready = members.filter((m) => takesWork(m.status)).length;
  const label = kindLabel(kind);

  function mover(id: string, delta: -1 | 1) {
    if (!onReorder || members.length < 2) return undefined;
    const order = moveWithinKind(all, id, delta);
    return order ? () => onReorder(order) : undefined;
  }

  return (
    <section className="integration-group" data-testid={`group-${kind}`} aria-label={`${label} integrations`}>
      <h2 className="integration-group-title">
        {label}{' '}
        <span className="integration-group-count">
          {ready} of {members.length} up
        </span>
      </h2>
      <div className={`integration-grid${stale ? ' is-stale' : ''}`}>
        {members.map((integration) => (
          <IntegrationCard
            key={integration.id}
            integration={integration}
            onSetEnabled={onSetEnabled}
            onMoveUp={mover(integration.id, -1)}
            onMoveDown={mover(integration.id, 1)}
            onRemove={onRemove}
            onWarm={onWarm}
          />
        ))}
      </div>
    </section>
  );
}
