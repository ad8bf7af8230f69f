/** Writes docs/methods.md from the method and parameter tables: `npx tsx tools/gen-method-docs.ts`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { METHOD_DOCS_PATH, renderMethodDocs } from './method-docs';

mkdirSync(path.dirname(METHOD_DOCS_PATH), { recursive: true });
writeFileSync(METHOD_DOCS_PATH, renderMethodDocs());
console.log(`wrote ${METHOD_DOCS_PATH}`);
