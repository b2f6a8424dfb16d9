// Search: the same engine as `logctl search` over the --files outputs. Newest first, pages of PAGE
// records fetched with the server's cursor (a button and infinite scroll, past 1,000 lines), the
// matched text highlighted, a histogram that zooms by dragging (-> from/to in the URL), facets,
// the lines around a hit, export of the whole result.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, withQuery } from '../api.js';
import { Chart, histogramOpts } from '../chart.jsx';
import { histogramData } from '../logic.js';
import { Filters, pick } from '../filters.jsx';
import { RecordRow } from '../records.jsx';
import { currentParams, navigate } from '../url.js';

const FILTERS = ['q', 'level', 'service', 'host', 'from', 'to'];
export const PAGE = 500;

function Facet({ name, counts, onPick }) {
  const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return null;
  return (
    <div class="facet" data-testid={`facet-${name}`}>
      <h3>{name}</h3>
      <ul>
        {entries.map(([value, n]) => (
          <li key={value}>
            {onPick ? <button type="button" class="link" onClick={() => onPick(value)}>{value}</button>
              : <span class="value">{value}</span>}
            <span class="count" data-testid="facet-count">{n}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Facets({ facets }) {
  if (!facets) return null;
  const narrow = (name) => (value) => navigate('/search', { ...currentParams(), [name]: value });
  return (
    <aside class="facets">
      {['level', 'service', 'host'].map((n) => <Facet key={n} name={n} counts={facets[n]} onPick={narrow(n)} />)}
      {Object.entries(facets.fields ?? {}).map(([k, counts]) => <Facet key={k} name={k} counts={counts} />)}
    </aside>
  );
}

function Context({ rec }) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    getJson('/api/context', { file: rec.file, offset: rec.offset, before: 5, after: 5 })
      .then((r) => setState({ records: r.records }), (e) => setState({ error: e.message }));
  }, []);
  if (state.loading) return <div class="context">loading…</div>;
  if (state.error) return <div class="context error">{state.error}</div>;
  return (
    <div class="context" data-testid="context">
      {state.records.map((r, i) => <RecordRow key={i} rec={r} class={r.offset === rec.offset ? 'ctx-hit' : 'ctx'} />)}
    </div>
  );
}

function Hit({ rec }) {
  const [open, setOpen] = useState(false);
  return (
    <div class="hit">
      <RecordRow rec={rec}>
        <button type="button" class="link ctx-toggle" onClick={() => setOpen(!open)} title={`${rec.file} @ ${rec.offset}`}>
          {open ? 'hide context' : 'context'}
        </button>
      </RecordRow>
      {open && <Context rec={rec} />}
    </div>
  );
}

// The first page (with histogram, facets, total) and the following ones through next_cursor.
function useSearch(filters) {
  const key = JSON.stringify(filters);
  const [state, setState] = useState({ loading: true, records: [] });
  const loadingMore = useRef(false);
  useEffect(() => {
    let live = true;
    setState({ loading: true, records: [] });
    getJson('/api/search', { ...filters, limit: PAGE }).then(
      (r) => live && setState({ ...r, loading: false }),
      (e) => live && setState({ loading: false, records: [], error: e.message }));
    return () => { live = false; };
  }, [key]);
  const more = async () => {
    if (!state.next_cursor || loadingMore.current) return;
    loadingMore.current = true;
    try {
      const r = await getJson('/api/search', { ...filters, limit: PAGE, cursor: state.next_cursor });
      setState((s) => ({ ...s, records: s.records.concat(r.records), next_cursor: r.next_cursor }));
    } catch (e) {
      setState((s) => ({ ...s, error: e.message }));
    } finally {
      loadingMore.current = false;
    }
  };
  return [state, more];
}

function MoreSentinel({ onVisible }) {
  const el = useRef(null);
  const cb = useRef(onVisible);
  cb.current = onVisible;
  useEffect(() => {
    const obs = new IntersectionObserver((es) => es.some((e) => e.isIntersecting) && cb.current());
    obs.observe(el.current);
    return () => obs.disconnect();
  }, []);
  return <div ref={el} class="sentinel" />;
}

function HistogramNote({ h }) {
  if (!h || !h.counts) return null;
  const sum = h.counts.reduce((a, b) => a + b, 0);
  return (
    <span>
      histogram: <span data-testid="histogram-sum">{sum}</span> in {h.counts.length} buckets of {h.bucket_ms / 1000} s
      (drag across it to zoom)
    </span>
  );
}

function Summary({ state, filters }) {
  return (
    <div class="status-line">
      <span data-testid="search-total">{state.loading ? 'searching…' : `${state.total ?? 0} matching records`}</span>
      {!state.loading && <span data-testid="search-shown">{state.records.length} shown</span>}
      <HistogramNote h={state.histogram} />
      <a href={withQuery('/api/export', { ...filters, format: 'ndjson' })} download="logship-search.ndjson">export NDJSON</a>
      <a href={withQuery('/api/export', { ...filters, format: 'csv' })} download="logship-search.csv">export CSV</a>
      {(filters.from || filters.to) && (
        <button type="button" class="link" onClick={() => navigate('/search', pick({ ...filters, from: '', to: '' }, FILTERS))}>
          reset time range
        </button>
      )}
      {state.error && <span class="error" data-testid="error">{state.error}</span>}
    </div>
  );
}

export function SearchPage({ params }) {
  const filters = pick(params, FILTERS);
  const [state, more] = useSearch(filters);
  const zoom = (fromMs, toMs) => navigate('/search', {
    ...pick(currentParams(), FILTERS), from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
  return (
    <section class="page search">
      <Filters params={filters} withTime onApply={(p) => navigate('/search', pick(p, FILTERS))} />
      <Summary state={state} filters={filters} />
      <div class="search-body">
        <div class="search-main">
          <Chart makeOpts={histogramOpts(zoom)} data={histogramData(state.histogram)} height={140} testid="histogram" />
          <div class="records" data-testid="search-records">
            {state.records.map((r, i) => <Hit key={`${r.file}:${r.offset}:${i}`} rec={r} />)}
          </div>
          {state.next_cursor && (
            <div class="more">
              <button type="button" onClick={more} data-testid="more">Load {PAGE} more</button>
              <MoreSentinel onVisible={more} />
            </div>
          )}
        </div>
        <Facets facets={state.facets} />
      </div>
    </section>
  );
}
