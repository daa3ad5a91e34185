// Benchmark only (node --import): every SQL statement postgres.js sends is counted and the count
// written to the file named by LCI_BENCH_COUNT_FILE every 100 ms (and at exit). Nothing else changes.
import { register } from 'node:module';

register(new URL('./count-hooks.mjs', import.meta.url));
