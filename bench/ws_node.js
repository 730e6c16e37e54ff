// ws_node.js -- the Node.js side of bench/ws.sh: the `ws` package answering text m on /echo with "Hello, m" (binary as is), and the same on /echo-deflate with permessage-deflate, in WORKERS cluster workers.
'use strict';

const http = require('node:http');

const port = Number(process.argv[2]);
const workers = Number(process.env.WORKERS || 2);

function echo(ws) {
  ws.on('message', (data, isBinary) => {
    if (isBinary)
      ws.send(data, { binary: true });
    else
      ws.send('Hello, ' + data.toString());
  });
}

function serve() {
  const { WebSocketServer } = require('ws');
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Hello, Anonymous');
  });
  const plain = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  // threshold 0: every answer compressed, as kiln (lws) compresses them all.
  const deflate = new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } });
  plain.on('connection', echo);
  deflate.on('connection', echo);
  server.on('upgrade', (req, socket, head) => {
    const wss = req.url === '/echo' ? plain : req.url === '/echo-deflate' ? deflate : null;
    if (!wss) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.listen(port, '127.0.0.1');
}

require('./peers/cluster')(workers, serve);
