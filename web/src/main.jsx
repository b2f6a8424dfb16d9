// The console's shell: navigation, client-side routing (every page is /index.html on the server),
// the server's /api/info in the header and the token prompt after a 401.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, login, setUnauthorizedHandler } from './api.js';
import { navigate, useLocation } from './url.js';
import { LivePage } from './pages/live.jsx';
import { SearchPage } from './pages/search.jsx';
import { QueuesPage } from './pages/queues.jsx';
import { PipelinePage } from './pages/pipeline.jsx';

const PAGES = [
  ['/live', 'Live', LivePage],
  ['/search', 'Search', SearchPage],
  ['/queues', 'Queues', QueuesPage],
  ['/pipeline', 'Pipeline', PipelinePage],
];

function NavLink({ path, label, active }) {
  const go = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(path);
  };
  return <a href={path} class={active ? 'active' : ''} onClick={go}>{label}</a>;
}

function TokenPrompt({ reason }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await login(token);
      location.reload();
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <div class="overlay">
      <form class="token-prompt" onSubmit={submit} data-testid="token-prompt">
        <h2>Token needed</h2>
        <p>{reason}</p>
        <input type="password" autocomplete="current-password" value={token} autofocus
          onInput={(e) => setToken(e.currentTarget.value)} data-testid="token-input" />
        <button type="submit">Sign in</button>
        {error && <p class="error">{error}</p>}
      </form>
    </div>
  );
}

function Header({ info, path }) {
  return (
    <header>
      <span class="brand">Logship</span>
      <nav>{PAGES.map(([p, label]) => <NavLink key={p} path={p} label={label} active={p === path} />)}</nav>
      {info && (
        <span class="info" data-testid="info">
          {info.queue} on {info.broker} · logship {info.version}
        </span>
      )}
    </header>
  );
}

function App() {
  const [path, params] = useLocation();
  const [info, setInfo] = useState(null);
  const [infoError, setInfoError] = useState(null);
  const [unauthorized, setUnauthorized] = useState(null);
  // The pages start only once /api/info answered: with --token-file, its 401 brings the prompt first.
  useEffect(() => {
    setUnauthorizedHandler(setUnauthorized);
    getJson('/api/info').then(setInfo, (e) => setInfoError(e.message));
  }, []);
  useEffect(() => {
    if (!PAGES.some(([p]) => p === path)) navigate('/live', params, { replace: true });
  }, [path]);
  const Page = PAGES.find(([p]) => p === path)?.[2];
  if (unauthorized) return <TokenPrompt reason={unauthorized} />;
  return (
    <>
      <Header info={info} path={path} />
      <main>
        {infoError && <p class="error">{infoError}</p>}
        {info && Page && <Page key={path} params={params} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
