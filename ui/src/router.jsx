// URL-driven state: every page reads its filters from location.search, so each view is linkable.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();
export function navigate(url, { replace = false } = {}) {
  if (url === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', url);
  listeners.forEach((l) => l());
}
addEventListener('popstate', () => listeners.forEach((l) => l()));

export function useLocation() {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return { path: location.pathname, params: Object.fromEntries(new URLSearchParams(location.search)) };
}

export function urlWith(path, params) {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, v);
  const s = sp.toString();
  return path + (s ? '?' + s : '');
}

// A link that navigates without reloading (and still opens in a new tab with a modifier key).
export function Link({ href, children, ...rest }) {
  return (
    <a href={href} {...rest} onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    }}>{children}</a>
  );
}
