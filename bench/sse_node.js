// sse_node.js -- the Node.js peer of bench/sse.sh: GET /events as bench/sse_plugin.c
// serves it ("event: hello" at once, "event: tick" to every open stream from one
// timer every INTERVAL seconds), GET / "Hello, Anonymous"; one process, node's
// own http module.  Usage: node sse_node.js PORT
"use strict";
const http = require("http");

const port = Number(process.argv[2]);
const interval = Number(process.env.INTERVAL || 2) * 1000;
const subs = new Set();
let ticks = 0;

setInterval(() => {
    const event = "event: tick\ndata: " + ++ticks + "\n\n";
    for (const res of subs) res.write(event);
}, interval);

http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/events") {
        res.writeHead(200, { "Content-Type": "text/event-stream",
                             "Cache-Control": "no-cache" });
        res.write("event: hello\ndata: welcome\n\n");
        subs.add(res);
        res.on("close", () => subs.delete(res));
    } else if (req.url === "/") {
        res.end("Hello, Anonymous");
    } else {
        res.writeHead(404).end();
    }
}).listen(port, "127.0.0.1");
