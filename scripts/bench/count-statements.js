// Benchmark only (node --require): counts the SQL statements the process sends to PostgreSQL, as the
// frontend messages Query ('Q') and Execute ('E') written to sockets that began with a PostgreSQL
// startup message, and writes the count to LCI_BENCH_COUNT_FILE every 100 ms (when it changed) and at exit. No loader
// thread and no module is replaced: the worker's own code and memory are as in production.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const { isMainThread } = require('node:worker_threads');

// Threads inherit --require: only the main thread talks to PostgreSQL, and only it writes the file.
const file = isMainThread ? process.env.LCI_BENCH_COUNT_FILE : undefined;
let count = 0;
const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;

/** Per socket: false for other protocols, else where its frames stand. */
const state = new WeakMap();

function feed(s, buf) {
  let i = 0;
  while (i < buf.length) {
    if (s.skip > 0) {
      const n = Math.min(s.skip, buf.length - i);
      s.skip -= n;
      i += n;
      continue;
    }
    s.head.push(buf[i++]);
    if (s.head.length < 5) continue;
    const [type, a, b, c, d] = s.head;
    s.head = [];
    if (type === 0x51 || type === 0x45) count++;
    s.skip = ((a << 24) | (b << 16) | (c << 8) | d) - 4;
  }
}

const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (chunk, ...rest) {
  if (Buffer.isBuffer(chunk)) {
    let s = state.get(this);
    if (s === undefined) {
      // The first write of a PostgreSQL connection: a startup message or SSLRequest (length, code).
      const code = chunk.length >= 8 ? chunk.readInt32BE(4) : 0;
      s = code === PROTOCOL_3 || code === SSL_REQUEST ? { skip: chunk.readInt32BE(0), head: [] } : false;
      state.set(this, s);
    }
    if (s) feed(s, chunk);
  }
  return write.call(this, chunk, ...rest);
};

if (file) {
  // Written only when it changed: the file write is the worker's cost while the bench runs it.
  let written = -1;
  const flush = () => {
    if (count === written) return;
    fs.writeFileSync(file, String(count));
    written = count;
  };
  setInterval(flush, 100).unref();
  process.on('exit', flush);
}
