import { useMemo, useState } from 'react';
import { KeyRound, Plus } from 'lucide-react';
import type { NewClientKey } from '../api/keys';
import { useKeys } from '../hooks/useKeys';
import { useModels } from '../hooks/useModels';
import LoadNotes from '../components/LoadNotes';
import PageHeader from '../components/PageHeader';
import KeyCard, { statusOf } from './KeyCard';
import KeyForm from './KeyForm';
import NewKeySecret from './NewKeySecret';
import { EMPTY_FIELDS } from './draft';
import './KeysPage.css';

const ORDER = { active: 0, expired: 1, revoked: 2 } as const;

/** The Keys page: a key per person or program, with what it may use, its limits, and revoke. */
export default function KeysPage({ origin = window.location.origin }: { origin?: string }) {
  const { keys, phase, error, create, update, revoke } = useKeys();
  const { models } = useModels();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<NewClientKey | null>(null);
  // Active keys first, then expired, then revoked; newest first within each.
  const sorted = useMemo(
    () => [...keys].sort((a, b) => ORDER[statusOf(a)] - ORDER[statusOf(b)] || (b.created_at ?? 0) - (a.created_at ?? 0)),
    [keys],
  );
  const sampleModel = models[0]?.id ?? 'auto';

  return (
    <div className="page" data-testid="keys-page">
      <PageHeader
        title="Keys"
        icon={KeyRound}
        subtitle={
          <>
            A key per person or program: what it may use, how much, and revoked at once when it leaks. The admin key (<code>ATMOSPHERE_API_KEY</code>) manages them.
          </>
        }
        actions={
          phase === 'ready' && !creating && !created ? (
            <button type="button" className="button primary" data-testid="new-key-button" onClick={() => setCreating(true)}>
              <Plus size={15} /> New key
            </button>
          ) : null
        }
      />
      <LoadNotes phase={phase} error={error} name="keys" lacks="has no client keys" endpoint="/v1/keys" what="the keys" />
      {phase === 'loading' ? <p className="page-muted">Loading keys…</p> : null}

      {created ? <NewKeySecret created={created} origin={origin} model={sampleModel} onDone={() => setCreated(null)} /> : null}
      {creating ? (
        <KeyForm
          name="new-key"
          initial={EMPTY_FIELDS}
          submitLabel="Create key"
          onCancel={() => setCreating(false)}
          onSubmit={async (draft) => {
            const key = await create(draft);
            setCreating(false);
            setCreated(key);
          }}
        />
      ) : null}

      {phase === 'ready' ? (
        sorted.length ? (
          <ul className="stack-list keys-list" data-testid="keys-list">
            {sorted.map((key) => (
              <KeyCard key={key.id} clientKey={key} onUpdate={update} onRevoke={revoke} />
            ))}
          </ul>
        ) : (
          <p className="page-note" data-testid="keys-empty">
            No client keys yet. Every program uses the admin key (or none, on loopback) until you make one.
          </p>
        )
      ) : null}
    </div>
  );
}
