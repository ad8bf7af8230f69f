// A tensor worker thread (see merge-threads.ts): registers tsx for the TypeScript sources, then serves tasks.
import { register } from 'tsx/esm/api';
register();
await import('./merge-thread-entry.ts');
