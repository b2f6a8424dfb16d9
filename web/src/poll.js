// Polls a JSON path every `ms` (after each answer, so a slow server is never asked twice at once).
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';

export const POLL_MS = 3000;

export function usePoll(path, ms, onData) {
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer = null;
    const tick = async () => {
      try {
        const data = await getJson(path);
        if (!live) return;
        setError(null);
        onData(data);
      } catch (e) {
        if (live) setError(e.message);
      }
      if (live) timer = setTimeout(tick, ms);
    };
    tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path]);
  return error;
}
