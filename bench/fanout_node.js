// fanout_node.js -- the Node.js peer of bench/fanout.sh: the `ws` package on /room, every connection in one room, each text message published to the Redis channel "room:node" (a name of its own: the Redis is shared with the other servers) with ioredis and every message of the channel sent to the worker's sockets, in WORKERS cluster workers.
'use strict';

const http = require('node:http');

const port = Number(process.argv[2]);
const workers = Number(process.env.WORKERS || 2);
const CHANNEL = 'room:node';
const [redisHost, redisPort] = (process.env.REDIS_ADDR || '127.0.0.1:6379').split(':');

function serve() {
  const { WebSocketServer } = require('ws');
  const Redis = require('ioredis');
  const pub = new Redis({ host: redisHost, port: Number(redisPort) });
  const sub = new Redis({ host: redisHost, port: Number(redisPort) });
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Hello, Anonymous');
  });
  const wss = new WebSocketServer({ server, path: '/room', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary)
        pub.publish(CHANNEL, data);
    });
  });
  sub.on('messageBuffer', (channel, message) => {
    for (const ws of wss.clients)
      if (ws.readyState === 1)
        ws.send(message, { binary: false });
  });
  sub.subscribe(CHANNEL).then(() => server.listen(port, '127.0.0.1'));
}

require('./peers/cluster')(workers, serve);
