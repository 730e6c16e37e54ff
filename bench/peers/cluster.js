// cluster.js -- starts the Node.js peers as the bench runs them: `workers` node:cluster workers, each calling serve(), all stopped by SIGTERM to the primary.
'use strict';

const cluster = require('node:cluster');

module.exports = function runCluster(workers, serve) {
  if (!cluster.isPrimary) {
    serve();
    return;
  }
  for (let i = 0; i < workers; i++)
    cluster.fork();
  process.on('SIGTERM', () => {
    for (const id in cluster.workers)
      cluster.workers[id].kill('SIGTERM');
    process.exit(0);
  });
};
