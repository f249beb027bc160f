// foxrouter.cjs starts a fox-wamp router (a WAMP router written by others)
// on 127.0.0.1 and prints one JSON line once it listens:
//
//	{"ready":true,"url":"ws://127.0.0.1:PORT/","port":PORT}
//
// Usage: node foxrouter.cjs [--port N]   (default 0: the system picks a port)
//
// fox-wamp speaks WAMP over WebSocket with JSON only (wamp.2.json); realms
// are created on first use and must match ^[a-z0-9_]+$. The router runs
// until stdin closes or the process is signalled, so a test that dies does
// not leave it behind.
'use strict'

const { parseArgs } = require('node:util')
const FoxRouter = require('fox-wamp')

const { values: opts } = parseArgs({
  options: { port: { type: 'string', default: '0' } },
})

const router = new FoxRouter()
const server = router.listenWAMP({ host: '127.0.0.1', port: Number(opts.port) })
server.on('listening', () => {
  const { port } = server.address()
  process.stdout.write(JSON.stringify({ ready: true, url: `ws://127.0.0.1:${port}/`, port }) + '\n')
})
server.on('error', (e) => {
  process.stderr.write(`foxrouter.cjs: ${e.stack || e}\n`)
  process.exit(1)
})

process.stdin.on('end', () => process.exit(0))
process.stdin.on('close', () => process.exit(0))
process.stdin.resume()
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0))
