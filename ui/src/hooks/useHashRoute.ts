import { useEffect, useState } from 'react';

function _read(defaultRoute: string): string {
  const route = window.location.hash.replace(/^#\/?/, '');
  return route || defaultRoute;
}

/** The page named in the URL hash ("#/integrations"); hash routing needs no server fallback. */
export function useHashRoute(defaultRoute: string): string {
  const [route, setRoute] = useState(() => _read(defaultRoute));
  useEffect(() => {
    const onChange = () => setRoute(_read(defaultRoute));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, [defaultRoute]);
  return route;
}
