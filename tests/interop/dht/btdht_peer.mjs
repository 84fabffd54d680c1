// Mainline DHT peer driven over stdin/stdout, backed by webtorrent's bittorrent-dht.
//
//   node btdht_peer.mjs --bind 127.0.0.X --port P [--bootstrap 127.0.0.Y:Q ...] [--verbose]
//
// Reads one JSON object per line on stdin and writes exactly one JSON line per command on stdout,
// in order. See README.md for the commands. Diagnostics go to stderr (with --verbose).
//
// The node never contacts the public routers: bittorrent-dht's bootstrap list is exactly the
// loopback nodes given with --bootstrap (possibly none).

import crypto from 'node:crypto'
import net from 'node:net'
import readline from 'node:readline'
import DHT from 'bittorrent-dht'

const DEFAULT_TIMEOUT = 30
const MAX_TIMEOUT = 120

const args = { bind: null, port: null, bootstrap: [], verbose: false }
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  if (a === '--bind') args.bind = process.argv[++i]
  else if (a === '--port') args.port = Number(process.argv[++i])
  else if (a === '--bootstrap') args.bootstrap.push(process.argv[++i])
  else if (a === '--verbose') args.verbose = true
  else fail(`unknown argument ${a}`)
}
if (!args.bind || !Number.isInteger(args.port)) fail('--bind and --port are required')
if (!isLoopback(args.bind)) fail('--bind must be a loopback address')
const bootstrap = args.bootstrap.map(parseEndpoint)

function fail (msg) {
  process.stderr.write(`btdht_peer: ${msg}\n`)
  process.exit(2)
}

function log (...m) {
  if (args.verbose) process.stderr.write(`[btdht_peer ${args.bind}:${args.port}] ${m.join(' ')}\n`)
}

function isLoopback (host) {
  return net.isIPv4(host) && host.startsWith('127.')
}

function parseEndpoint (text) {
  const i = text.lastIndexOf(':')
  const host = text.slice(0, i)
  const port = Number(text.slice(i + 1))
  if (!isLoopback(host) || !Number.isInteger(port)) fail(`refusing bootstrap node ${text}`)
  return { host, port }
}

// ---- Ed25519 (RFC 8032) with node's crypto: a 32-byte seed wrapped as PKCS#8 -------------------

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')

function keysFromSeed (seed) {
  if (seed.length !== 32) throw new Error('seed must be 32 bytes')
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' })
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { privateKey, publicKey: Buffer.from(spki.subarray(spki.length - 32)) }
}

function verify (sig, message, pk) {
  try {
    if (!sig || !pk || sig.length !== 64 || pk.length !== 32) return false
    const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, pk]), format: 'der', type: 'spki' })
    return crypto.verify(null, message, key, sig)
  } catch {
    return false
  }
}

const sha1 = (b) => crypto.createHash('sha1').update(b).digest()
const bencodeBytes = (b) => Buffer.concat([Buffer.from(`${b.length}:`), b])

// ---- the node ------------------------------------------------------------------------------------

const dht = new DHT({
  bootstrap, // [] when none: never the library's default routers
  host: args.bind,
  verify // needed to accept (and to check) mutable items
})
// bind before the constructor's deferred bootstrap sends its first query
dht.listen(args.port, args.bind)
const listening = new Promise((resolve) => dht.once('listening', resolve))
dht.once('error', (err) => {
  if (dht.listening) return
  // e.g. EADDRINUSE: there is no node to drive
  process.stderr.write(`start failed: ${err.message}\n`)
  process.exit(1)
})
const readyEvent = new Promise((resolve) => dht.once('ready', resolve))
dht.on('error', (err) => log('error', err.message))
dht.on('warning', (err) => log('warning', err.message))

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timeout (${what})`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function liveNodes () {
  return dht.toJSON().nodes.map((n) => `${n.host}:${n.port}`)
}

function textOf (v) {
  if (!Buffer.isBuffer(v)) return { ok: false, error: 'v is not a byte string', v: String(v) }
  const text = new TextDecoder('utf-8', { fatal: true })
  try {
    return { ok: true, value: text.decode(v) }
  } catch {
    return { ok: false, error: 'v is not UTF-8', v_hex: v.toString('hex') }
  }
}

function getItem (target, opts, ms) {
  return withTimeout(new Promise((resolve, reject) => {
    dht.get(target, opts, (err, res) => (err ? reject(err) : resolve(res)))
  }), ms, 'get')
}

const ops = {
  async ready (cmd, ms) {
    const end = Date.now() + ms
    await withTimeout(listening, ms, 'listen')
    await withTimeout(readyEvent, Math.max(1, end - Date.now()), 'bootstrap').catch(() => {})
    while (dht.nodes.count() === 0 && bootstrap.length && Date.now() < end - 500) {
      // the bootstrap nodes may have come up after us: ping them again, then look up our own ID
      for (const b of bootstrap) dht.addNode({ host: b.host, port: b.port })
      await sleep(500)
    }
    if (dht.nodes.count() > 0 && cmd.refresh !== false) {
      const left = Math.max(1, end - Date.now())
      await withTimeout(new Promise((resolve) => {
        dht._rpc.populate(dht.nodeId, { q: 'find_node', a: { id: dht.nodeId, target: dht.nodeId } }, resolve)
      }), left, 'refresh').catch(() => {})
    }
    const n = dht.nodes.count()
    return { ok: n > 0 || bootstrap.length === 0, nodes: n, id: dht.nodeId.toString('hex') }
  },

  async id () {
    return { ok: true, id: dht.nodeId.toString('hex') }
  },

  async nodes () {
    return { ok: true, id: dht.nodeId.toString('hex'), nodes: liveNodes() }
  },

  async put_immutable (cmd, ms) {
    const v = Buffer.from(cmd.value, 'utf8')
    const expected = sha1(bencodeBytes(v)).toString('hex')
    const { hash, n } = await withTimeout(new Promise((resolve, reject) => {
      dht.put({ v }, (err, hash, n) => (err ? reject(err) : resolve({ hash, n })))
    }), ms, 'put')
    const target = Buffer.from(hash).toString('hex')
    if (target !== expected) return { ok: false, error: `target ${target} != sha1(bencode(v)) ${expected}` }
    return { ok: n > 0, target, stored: n }
  },

  async get_immutable (cmd, ms) {
    const target = Buffer.from(cmd.target, 'hex')
    // cache: false asks the network even when this node holds the item itself
    const res = await getItem(target, { cache: cmd.cache === true }, ms)
    if (!res || res.v === undefined) return { ok: false, error: 'not found' }
    return textOf(res.v)
  },

  async put_mutable (cmd, ms) {
    const end = Date.now() + ms
    const { privateKey, publicKey } = keysFromSeed(Buffer.from(cmd.seed, 'hex'))
    const salt = Buffer.from(cmd.salt || '', 'utf8')
    const v = Buffer.from(cmd.value, 'utf8')
    let seq = cmd.seq
    if (seq === undefined) {
      // bittorrent-dht wants the caller to choose seq; do what libtorrent does: current + 1, or 1
      const target = sha1(Buffer.concat([publicKey, salt]))
      const cur = await getItem(target, { salt: salt.length ? salt : undefined, cache: false }, Math.max(1, end - Date.now()))
        .catch(() => null)
      seq = cur && typeof cur.seq === 'number' ? cur.seq + 1 : 1
    }
    const opts = {
      k: publicKey,
      v,
      seq,
      sign: (buf) => crypto.sign(null, buf, privateKey)
    }
    if (salt.length) opts.salt = salt
    if (typeof cmd.cas === 'number') opts.cas = cmd.cas
    const n = await withTimeout(new Promise((resolve, reject) => {
      dht.put(opts, (err, hash, n) => (err ? reject(err) : resolve(n)))
    }), Math.max(1, end - Date.now()), 'put')
    return { ok: n > 0, pubkey: publicKey.toString('hex'), seq, stored: n }
  },

  async get_mutable (cmd, ms) {
    const pk = Buffer.from(cmd.pubkey, 'hex')
    const salt = Buffer.from(cmd.salt || '', 'utf8')
    const target = sha1(Buffer.concat([pk, salt]))
    const res = await getItem(target, { salt: salt.length ? salt : undefined, cache: cmd.cache === true }, ms)
    if (!res || res.v === undefined) return { ok: false, error: 'not found' }
    const reply = textOf(res.v)
    if (reply.ok) {
      reply.seq = res.seq ?? 0
      if (res.sig) reply.sig = Buffer.from(res.sig).toString('hex')
    }
    return reply
  },

  async announce (cmd, ms) {
    const ih = Buffer.from(cmd.infohash, 'hex')
    const port = Number(cmd.port || 0)
    const n = await withTimeout(new Promise((resolve, reject) => {
      dht.announce(ih, port, (err, n) => (err ? reject(err) : resolve(n)))
    }), ms, 'announce')
    return { ok: true, nodes: n, port: port || args.port }
  },

  async get_peers (cmd, ms) {
    const ih = Buffer.from(cmd.infohash, 'hex')
    const peers = []
    const onPeer = (peer, infoHash) => {
      if (!Buffer.from(infoHash).equals(ih)) return
      const s = `${peer.host}:${peer.port}`
      if (!peers.includes(s)) peers.push(s)
    }
    dht.on('peer', onPeer)
    let abort = () => {}
    try {
      await withTimeout(new Promise((resolve, reject) => {
        abort = dht.lookup(ih, (err) => (err ? reject(err) : resolve()))
      }), ms, 'get_peers')
    } catch (err) {
      if (!peers.length) throw err
    } finally {
      abort()
      dht.removeListener('peer', onPeer)
    }
    if (!peers.length) return { ok: false, error: 'no peers found', peers }
    return { ok: true, peers }
  },

  async quit () {
    return { ok: true }
  }
}

// ---- the command loop: one reply line per command, in order -------------------------------------

let queue = Promise.resolve()
let quitting = false

function reply (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function shutdown () {
  if (quitting) return
  quitting = true
  const hard = setTimeout(() => process.exit(0), 2000)
  hard.unref()
  dht.destroy(() => process.exit(0))
}

async function handle (line) {
  const started = Date.now()
  let cmd = null
  let out
  try {
    cmd = JSON.parse(line)
    const timeout = Math.min(Number(cmd.timeout ?? DEFAULT_TIMEOUT), MAX_TIMEOUT) * 1000
    const op = ops[cmd.op]
    out = op ? await op(cmd, timeout) : { ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` }
  } catch (err) {
    out = { ok: false, error: err && err.message ? err.message : String(err) }
  }
  out.ms = Date.now() - started
  log(line, '->', JSON.stringify(out))
  reply(out)
  if (cmd && cmd.op === 'quit') shutdown()
}

const rl = readline.createInterface({ input: process.stdin, terminal: false })
rl.on('line', (line) => {
  if (!line.trim() || quitting) return
  queue = queue.then(() => handle(line))
})
rl.on('close', () => { queue.then(shutdown) })
