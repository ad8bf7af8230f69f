/**
 * The absolute address of the app's root folder (where index.html, models/, data/ and ort/ live),
 * in the page and in its workers. The build uses a relative base (`./`) so that it runs from any
 * folder of any static host: the page resolves it against its own address; a worker, whose own
 * address is its script in `assets/`, one folder up. The dev server's base is absolute (`/`).
 */
export function appBaseUrl(base: string = import.meta.env.BASE_URL): string {
  const here = typeof location !== 'undefined' ? location.href : 'http://localhost/';
  if (!base.startsWith('.')) return new URL(base, here).href;
  const from = typeof document !== 'undefined' ? document.baseURI : new URL('../', here).href;
  return new URL(base, from).href;
}
