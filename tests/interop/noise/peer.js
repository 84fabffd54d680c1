'use strict'
// One party of Noise_XX_25519_ChaChaPoly_BLAKE2b, played by the third-party npm package
// noise-protocol, for SecureChat's interop tests (NoiseProtocolNpmInteropTests.cs).
//
//   node peer.js <initiator|responder> <prologue>
//
// stdin and stdout carry Noise messages framed as SecureChat frames them on TCP:
//
//   +--------------------------+---------------------------+
//   | length (uint16, big end) | Noise message (length B)  |
//   +--------------------------+---------------------------+
//
// The session, in order:
//   1. The XX handshake (Noise spec 7.5): -> e / <- e, ee, s, es / -> s, se. This peer sends
//      HANDSHAKE_PAYLOAD(n) with every message n it writes, and reports what it received.
//   2. This peer sends OWN_MESSAGES as transport messages.
//   3. For each transport message it receives it sends back ECHO_PREFIX + the plaintext.
//   4. At a clean end of input it sends a report (UTF-8 JSON: handshake hash, both static public
//      keys, the handshake payloads received) as its last transport message and exits 0.
// Diagnostics go to stderr only; any failure exits 1.
//
// The transport uses no associated data (Noise spec 5.2: the application may leave it empty).

const noise = require('noise-protocol')
// The package's index exports only the handshake. Its README points to cipher-state.js for
// transport messages over the split's {tx, rx}, and it has no accessor for the handshake hash,
// which symmetric-state.js reads from the handshake state. These are the same modules, wired
// the same way, as the package's own index.js.
const dh = require('noise-protocol/dh')()
const hash = require('noise-protocol/hash')({ dh })
const cipher = require('noise-protocol/cipher')()
const cipherState = require('noise-protocol/cipher-state')({ cipher })
const symmetricState = require('noise-protocol/symmetric-state')({ hash, cipherState })

const MAX_MESSAGE_LENGTH = 65535 // Noise spec 3: a Noise message is at most 65535 bytes.
const XX_MESSAGE_COUNT = 3
const NO_AD = Buffer.alloc(0)
const ECHO_PREFIX = Buffer.from('echo:', 'utf8')
const HANDSHAKE_PAYLOAD = n => Buffer.from(`noise-protocol handshake payload ${n}`, 'utf8')
const OWN_MESSAGES = [
  Buffer.from('hello from noise-protocol', 'utf8'),
  Buffer.alloc(0),
  Buffer.from(Array.from({ length: 60000 }, (_, i) => i % 251))
]

class FrameReader {
  constructor (stream) {
    this.chunks = stream[Symbol.asyncIterator]()
    this.buffered = Buffer.alloc(0)
  }

  // The next message, or null at a clean end of input (no partial frame left).
  async read () {
    for (;;) {
      if (this.buffered.length >= 2) {
        const end = 2 + this.buffered.readUInt16BE(0)
        if (this.buffered.length >= end) {
          const message = this.buffered.subarray(2, end)
          this.buffered = this.buffered.subarray(end)
          return message
        }
      }
      const { value, done } = await this.chunks.next()
      if (done) {
        if (this.buffered.length === 0) return null
        throw new Error(`input ended inside a frame (${this.buffered.length} bytes left)`)
      }
      this.buffered = Buffer.concat([this.buffered, value])
    }
  }
}

function writeFrame (message) {
  const frame = Buffer.alloc(2 + message.length)
  frame.writeUInt16BE(message.length, 0) // throws RangeError past 65535
  message.copy(frame, 2)
  return new Promise((resolve, reject) => {
    process.stdout.write(frame, error => (error ? reject(error) : resolve()))
  })
}

function log (line) {
  process.stderr.write(`peer.js: ${line}\n`)
}

async function handshake (input, initiator, prologue) {
  const staticKeys = noise.keygen()
  const state = noise.initialize('XX', initiator, prologue, staticKeys)
  try {
    const receivedPayloads = []
    let split
    for (let n = 1; n <= XX_MESSAGE_COUNT; n++) {
      const initiatorWrites = n % 2 === 1
      if (initiatorWrites === initiator) {
        const message = Buffer.alloc(MAX_MESSAGE_LENGTH)
        split = noise.writeMessage(state, HANDSHAKE_PAYLOAD(n), message)
        await writeFrame(message.subarray(0, noise.writeMessage.bytes))
      } else {
        const message = await input.read()
        if (message === null) throw new Error(`input ended before handshake message ${n}`)
        const payload = Buffer.alloc(message.length)
        split = noise.readMessage(state, message, payload)
        receivedPayloads.push(payload.subarray(0, noise.readMessage.bytes))
      }
    }
    if (split === undefined) throw new Error('the handshake ended without a split')

    const handshakeHash = Buffer.alloc(hash.HASHLEN)
    symmetricState.getHandshakeHash(state.symmetricState, handshakeHash)
    return {
      split,
      report: {
        handshakeHash: handshakeHash.toString('hex'),
        localStaticPublicKey: Buffer.from(staticKeys.publicKey).toString('hex'),
        remoteStaticPublicKey: Buffer.from(state.rs).toString('hex'),
        receivedHandshakePayloads: receivedPayloads.map(p => p.toString('hex'))
      }
    }
  } finally {
    noise.destroy(state)
  }
}

function encrypt (state, plaintext) {
  const ciphertext = Buffer.alloc(plaintext.length + cipherState.MACLEN)
  cipherState.encryptWithAd(state, ciphertext, NO_AD, plaintext)
  return ciphertext
}

function decrypt (state, ciphertext) {
  if (ciphertext.length < cipherState.MACLEN) throw new Error('a transport message is shorter than its tag')
  const plaintext = Buffer.alloc(ciphertext.length - cipherState.MACLEN)
  cipherState.decryptWithAd(state, plaintext, NO_AD, ciphertext) // throws if it does not authenticate
  return plaintext
}

async function main () {
  const [role, prologue] = process.argv.slice(2)
  if ((role !== 'initiator' && role !== 'responder') || prologue === undefined) {
    throw new Error('usage: node peer.js <initiator|responder> <prologue>')
  }

  const input = new FrameReader(process.stdin)
  const { split, report } = await handshake(input, role === 'initiator', Buffer.from(prologue, 'utf8'))
  log(`handshake complete as ${role}, handshake hash ${report.handshakeHash}`)

  for (const message of OWN_MESSAGES) await writeFrame(encrypt(split.tx, message))

  let echoed = 0
  for (let message = await input.read(); message !== null; message = await input.read()) {
    await writeFrame(encrypt(split.tx, Buffer.concat([ECHO_PREFIX, decrypt(split.rx, message)])))
    echoed++
  }

  await writeFrame(encrypt(split.tx, Buffer.from(JSON.stringify(report), 'utf8')))
  log(`sent ${OWN_MESSAGES.length} messages, echoed ${echoed}, input ended cleanly`)
}

// On success stdin has ended, so Node exits by itself once stdout is drained. On failure stdin may
// still be open and would keep Node waiting for input, so exit at once.
main().then(
  () => { process.exitCode = 0 },
  error => {
    log(`failed: ${error.stack || error}`)
    process.exit(1)
  }
)
