// Live: records as they arrive (Server-Sent Events from /api/live, filtered on the server), newest
// at the bottom, in a bounded ring buffer. Pause keeps the list (and so the scroll position) still;
// what arrives meanwhile waits, bounded too, and is shown on resume.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { withQuery } from '../api.js';
import { Filters, pick } from '../filters.jsx';
import { ringAppend } from '../logic.js';
import { RecordRow } from '../records.jsx';
import { navigate } from '../url.js';

export const RING_SIZE = 2000;
const FILTERS = ['q', 'level', 'service', 'host'];

function useLiveStream(filters, onRecords, onSkipped, onStatus) {
  const key = JSON.stringify(filters);
  useEffect(() => {
    const source = new EventSource(withQuery('/api/live', filters));
    let batch = [];
    let timer = null;
    const flush = () => {
      timer = null;
      onRecords(batch);
      batch = [];
    };
    // 'open': the stream is there; 'subscribed': the server's tail is, so what is sent from now on
    // shows (docs/CONSOLE.md, "Live events").
    source.addEventListener('open', () => onStatus({ state: 'connected' }));
    source.addEventListener('subscribed', () => onStatus({ state: 'live' }));
    source.addEventListener('record', (e) => {
      batch.push(JSON.parse(e.data));
      // Coalesce bursts into one render per animation frame.
      if (timer === null) timer = requestAnimationFrame(flush);
    });
    source.addEventListener('skipped', (e) => onSkipped(JSON.parse(e.data).count ?? 0));
    source.addEventListener('error', (e) => {
      // A server-sent `event: error` carries data; the EventSource's own error (connection lost) does not.
      if (e.data) onStatus({ state: 'error', error: JSON.parse(e.data).error });
      else onStatus({ state: source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting' });
    });
    return () => {
      source.close();
      if (timer !== null) cancelAnimationFrame(timer);
    };
  }, [key]);
}

function StatusLine({ status, shown, dropped, skipped, pending }) {
  return (
    <div class="status-line">
      <span class={`badge badge-${status.state}`} data-testid="live-state">{status.state}</span>
      {status.error && <span class="error">{status.error}</span>}
      <span>{shown} records shown (the last {RING_SIZE} are kept)</span>
      {dropped > 0 && <span>{dropped} older ones left the buffer</span>}
      {pending > 0 && <span data-testid="pending">{pending} new while paused</span>}
      {skipped > 0 && (
        <span class="warning" data-testid="skipped">
          {skipped} records skipped: the browser fell behind the stream (the server dropped them)
        </span>
      )}
    </div>
  );
}

export function LivePage({ params }) {
  const filters = pick(params, FILTERS);
  // records: the ring; dropped: how many fell out of it (also the absolute number of records[0]).
  const [{ records, dropped }, setBuffer] = useState({ records: [], dropped: 0 });
  const [skipped, setSkipped] = useState(0);
  const [status, setStatus] = useState({ state: 'connecting' });
  const [paused, setPaused] = useState(false);
  const pending = useRef([]);
  const [pendingCount, setPendingCount] = useState(0);
  const pausedRef = useRef(false);
  const list = useRef(null);
  const stick = useRef(true);

  const append = (items) => {
    setBuffer((old) => {
      const [next, drop] = ringAppend(old.records, items, RING_SIZE);
      return { records: next, dropped: old.dropped + drop };
    });
  };
  const onRecords = (items) => {
    if (!pausedRef.current) return append(items);
    [pending.current] = ringAppend(pending.current, items, RING_SIZE);
    setPendingCount(pending.current.length);
  };
  useLiveStream(filters, onRecords, (n) => setSkipped((s) => s + n), setStatus);
  useEffect(() => {
    setBuffer({ records: [], dropped: 0 });
    setSkipped(0);
  }, [JSON.stringify(filters)]);

  const togglePause = () => {
    pausedRef.current = !pausedRef.current;
    setPaused(pausedRef.current);
    if (!pausedRef.current) {
      append(pending.current);
      pending.current = [];
      setPendingCount(0);
    }
  };
  // Follow the newest record unless the reader scrolled up (or paused).
  const onScroll = () => {
    const el = list.current;
    stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
  };
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current && !paused) el.scrollTop = el.scrollHeight;
  }, [records, paused]);

  return (
    <section class="page live">
      <Filters params={filters} onApply={(p) => navigate('/live', pick(p, FILTERS))}>
        <button type="button" class={paused ? 'resume' : 'pause'} onClick={togglePause} data-testid="pause">
          {paused ? 'Resume' : 'Pause'}
        </button>
      </Filters>
      <StatusLine status={status} shown={records.length} dropped={dropped} skipped={skipped} pending={pendingCount} />
      <div class="records" ref={list} onScroll={onScroll} data-testid="live-records">
        {records.length === 0 && <p class="empty">Waiting for records…</p>}
        {records.map((r, i) => <RecordRow key={i + dropped} rec={r} />)}
      </div>
    </section>
  );
}
