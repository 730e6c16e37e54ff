// ws_node.js -- the Node.js side of bench/ws.sh: the `ws` package answering text m on /echo with "Hello, m" (binary as is), in WORKERS cluster workers.
'use strict';

const http = require('node:http');

const port = Number(process.argv[2]);
const workers = Number(process.env.WORKERS || 2);

function serve() {
  const { WebSocketServer } = require('ws');
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Hello, Anonymous');
  });
  const wss = new WebSocketServer({ server, path: '/echo', perMessageDeflate: false });
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
