// postgres.js with a `debug` hook that counts statements (see count-statements.mjs).
import fs from 'node:fs';
import real from 'postgres';

let count = 0;
const file = process.env.LCI_BENCH_COUNT_FILE;
const write = () => file && fs.writeFileSync(file, String(count));
if (file) {
  setInterval(write, 100).unref();
  process.on('exit', write);
}

function counted(url, options = {}) {
  const own = options.debug;
  return real(url, {
    ...options,
    debug: (...a) => {
      count++;
      if (typeof own === 'function') own(...a);
    },
  });
}
Object.assign(counted, real);
export default counted;
