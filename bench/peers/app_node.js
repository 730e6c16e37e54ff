// app_node.js -- bench/db.sh's Node.js peer: GET /db, /queries?n=N and /counter/{name}, as kiln's db and counter plugins answer them, with a pg Pool and ioredis in WORKERS cluster workers.
//
// Usage: NODE_PATH=DIR/node_modules node app_node.js PORT
// Environment: WORKERS (2), POOL (pg connections per worker, 4), PGHOST,
// PGPORT, PGDATABASE, PGUSER (the PostgreSQL server), REDIS_ADDR (HOST:PORT).
// The npm packages pg and ioredis (bench/db.sh installs them).
'use strict';

const http = require('node:http');

const port = Number(process.argv[2]);
const workers = Number(process.env.WORKERS || 2);

// TechEmpower's rule: a number from 1 to 500, 1 when it is not a number.
function queriesCount(text) {
  const n = Number.parseInt(text, 10);
  if (Number.isNaN(n))
    return 1;
  return Math.min(Math.max(n, 1), 500);
}

function randomId() {
  return 1 + Math.floor(Math.random() * 10000);
}

function serve() {
  const { Pool } = require('pg');
  const Redis = require('ioredis');
  const pool = new Pool({
    host: process.env.PGHOST, port: Number(process.env.PGPORT),
    database: process.env.PGDATABASE, user: process.env.PGUSER,
    max: Number(process.env.POOL || 4),
  });
  const [redisHost, redisPort] = process.env.REDIS_ADDR.split(':');
  const redis = new Redis({ host: redisHost, port: Number(redisPort) });
  // A named query is prepared once per connection, then reused.
  const world = (id) => pool.query({ name: 'world', text: 'SELECT id, randomnumber FROM world WHERE id = $1', values: [id] })
    .then((r) => ({ id: r.rows[0].id, randomNumber: r.rows[0].randomnumber }));

  function answer(res, status, type, body) {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
  function failed(res, err) {
    answer(res, 500, 'text/plain; charset=utf-8', String(err && err.message) + '\n');
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method !== 'GET') {
      answer(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    } else if (url.pathname === '/db') {
      world(randomId())
        .then((row) => answer(res, 200, 'application/json', JSON.stringify(row)))
        .catch((err) => failed(res, err));
    } else if (url.pathname === '/queries') {
      const n = queriesCount(url.searchParams.get('n'));
      Promise.all(Array.from({ length: n }, () => world(randomId())))
        .then((rows) => answer(res, 200, 'application/json', JSON.stringify(rows)))
        .catch((err) => failed(res, err));
    } else if (url.pathname.startsWith('/counter/') && url.pathname.length > 9 &&
               url.pathname.indexOf('/', 9) < 0) {
      let name;
      try {
        name = decodeURIComponent(url.pathname.slice(9));
      } catch (err) {
        return answer(res, 400, 'text/plain; charset=utf-8', 'bad percent-encoding\n');
      }
      redis.incr('counter:' + name)
        .then((v) => answer(res, 200, 'text/plain; charset=utf-8', v + '\n'))
        .catch((err) => failed(res, err));
    } else {
      answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    Promise.allSettled([pool.end(), redis.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

require('./cluster')(workers, serve);
