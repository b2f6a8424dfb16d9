// The page's state lives in its URL (bookmarkable, shareable): path + query parameters.
import { useEffect, useState } from 'preact/hooks';
import { withQuery } from './api.js';

const listeners = new Set();

function notify() {
  for (const l of listeners) l();
}

window.addEventListener('popstate', notify);

export function navigate(path, params, { replace = false } = {}) {
  const url = withQuery(path, params);
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

export function currentParams() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

// Re-renders on every change of the URL; returns [pathname, params].
export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return [location.pathname, currentParams()];
}
