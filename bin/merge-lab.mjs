#!/usr/bin/env node
// Runs the Merge Lab CLI from its TypeScript sources (the same engine the browser runs).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
