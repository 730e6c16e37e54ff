// ws_node.js -- the Node.js side of bench/ws.sh: the `ws` package answering text m on /echo with "Hello, m" (binary as is), in WORKERS cluster workers; with DEFLATE=1 permessage-deflate is accepted and every message compressed.
'use strict';

const http = require('node:http');

const port = Number(process.argv[2]);
const workers = Number(process.env.WORKERS || 2);
// ws compresses only messages of 1 KiB and more by default; lws (kiln)
// compresses every one, so both do here.  zlib's other settings stay ws's.
const deflate = process.env.DEFLATE === '1' ? { threshold: 0 } : false;

function serve() {
  const { WebSocketServer } = require('ws');
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Hello, Anonymous');
  });
  const wss = new WebSocketServer({ server, path: '/echo', perMessageDeflate: deflate });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary)
        ws.send(data, { binary: true });
      else
        ws.send('Hello, ' + data.toString());
    });
  });
  server.listen(port, '127.0.0.1');
}

require('./peers/cluster')(workers, serve);
