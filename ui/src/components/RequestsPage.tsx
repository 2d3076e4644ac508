import { useMemo, useRef, useState } from 'react';
import { Activity, Pause, Play } from 'lucide-react';
import type { RequestFilter } from '../api/types';
import { matches, valuesOf } from '../api/requestFilter';
import { useRequests } from '../hooks/useRequests';
import LiveIndicator from './LiveIndicator';
import LoadNotes from './LoadNotes';
import PageHeader from './PageHeader';
import RequestFilters from './RequestFilters';
import RequestRow from './RequestRow';
import './RequestsPage.css';

/** Scrolled further than this from the top counts as reading back through the log. */
const SCROLLED_PX = 8;

/** The Requests page: what each recent request did, live, newest first. */
export default function RequestsPage({ socketUrl }: { socketUrl?: string }) {
  const { entries, phase, error, liveState, paused, waiting, pause, resume } = useRequests({ socketUrl });
  const [filter, setFilter] = useState<RequestFilter>({});
  const [openId, setOpenId] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const shown = useMemo(() => entries.filter((e) => matches(e, filter)), [entries, filter]);
  const backends = useMemo(() => valuesOf(entries, (e) => [e.backend]), [entries]);
  const models = useMemo(() => valuesOf(entries, (e) => [e.requested_model, e.model]), [entries]);

  // New rows would move what the person is reading: hold them while the log is scrolled.
  function onScroll() {
    const top = scroller.current?.scrollTop ?? 0;
    if (top > SCROLLED_PX && !paused) pause();
    else if (top <= SCROLLED_PX && paused) resume();
  }

  function resumeAtTop() {
    if (scroller.current) scroller.current.scrollTop = 0;
    resume();
  }

  return (
    <div className="page">
      <PageHeader
        title="Requests"
        icon={Activity}
        subtitle="Every request through Atmosphere: who served it, what was tried first, how long it took. Prompts are not shown."
        actions={<LiveIndicator state={liveState} />}
      />
      <LoadNotes phase={phase} error={error} name="requests" lacks="keeps no request log" endpoint="/v1/requests" what="the request log" />

      {phase === 'ready' || phase === 'loading' ? (
        <>
          <RequestFilters filter={filter} backends={backends} models={models} onChange={setFilter} />
          {paused ? (
            <div className="strip tone-warning requests-paused" role="status" data-testid="requests-paused">
              <Pause size={15} />
              <span>
                Paused while you scroll{waiting ? `: ${waiting} new ${waiting === 1 ? 'request' : 'requests'} waiting` : ''}.
              </span>
              <button type="button" className="button outline tone-warning small" data-testid="requests-resume" onClick={resumeAtTop}>
                <Play size={14} /> Resume
              </button>
            </div>
          ) : null}
          <div className="requests-scroller" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label="Request log">
            <table className="requests-table" data-testid="requests-table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col" className="request-col-surface">
                    Surface
                  </th>
                  <th scope="col">Model</th>
                  <th scope="col">Integration</th>
                  <th scope="col">Outcome</th>
                  <th scope="col" className="request-col-timing">
                    First token
                  </th>
                  <th scope="col" className="request-col-timing">
                    Added
                  </th>
                  <th scope="col" className="request-col-tokens">
                    Tokens
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((entry) => (
                  <RequestRow key={entry.id} entry={entry} open={openId === entry.id} onToggle={(id) => setOpenId((current) => (current === id ? null : id))} />
                ))}
              </tbody>
            </table>
            {phase === 'ready' && shown.length === 0 ? (
              <p className="requests-empty" data-testid="requests-empty">
                {entries.length ? 'No request matches these filters.' : 'No requests yet. Send one (the Playground is a quick way) and it appears here.'}
              </p>
            ) : null}
          </div>
        </>
      ) : null}
    </div>
  );
}
