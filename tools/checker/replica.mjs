// ref: vector checker — HotStuff replica step files (consensus/hotstuff_replica).
//
// A replica case gives its configuration (validators, name, Ed25519 seed) and its steps (each
// input with the effects it produced). Without re-running the replica, this checks what can be
// checked from the bytes alone: the seed is the named validator's key; every proposal, vote and
// new-view message the replica sends is signed by that key over the stated domain and payload;
// every message delivered to it is signed by its sender's key; and effects name only the kinds
// the format defines.

import { createPrivateKey, createPublicKey } from 'node:crypto'
import { canonical } from './cbor.mjs'
import { verifySignature } from './ed25519.mjs'
import { sha256 } from './merkle.mjs'

const CONSENSUS = 'aci-ref/consensus/'
// RFC 8410: a PKCS#8 wrapper around a raw 32-byte Ed25519 seed.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const EFFECTS = new Set(['Send', 'Broadcast', 'SetTimer', 'Decided', 'Dropped'])

function publicOf (seed) {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x, 'base64url')
}

const signed = (domain, payload) => canonical([CONSENSUS + domain, payload])

// The signer and the bytes it signed, for the messages that carry a signature.
function signedPart (kind, m, sender) {
  if (kind === 'Vote') return [m.signer, signed('hotstuff/vote', [m.phase, m.view, m.block])]
  if (kind === 'NewView') return [m.signer, signed('hotstuff/new-view', [m.view, sha256(canonical(m.justify))])]
  if (kind === 'Proposal') {
    const payload = [m.view, sha256(canonical(m.block)), sha256(canonical(m.justify))]
    return [sender, signed('hotstuff/proposal', payload)]
  }
  return null
}

export function checkReplica (path, config, steps, tally) {
  const keys = new Map(config.validators.map((v) => [v.name, v.public_key]))
  const own = keys.get(config.name)
  tally.check('replica key', path, own !== undefined && Buffer.compare(publicOf(config.seed), Buffer.from(own)) === 0,
    'the seed is not the named validator\'s key')
  steps.forEach((step, index) => {
    const where = `${path} step ${index}`
    for (const effect of step.effects) {
      tally.check('replica effect kinds', where, EFFECTS.has(effect.kind), `unknown effect ${effect.kind}`)
      if (effect.kind !== 'Send' && effect.kind !== 'Broadcast') continue
      const message = effect.value.message
      const part = signedPart(message.kind, message.value, config.name)
      if (part === null) continue
      const [signer, bytes] = part
      tally.check('replica signatures sent', where,
        signer === config.name && verifySignature(own, bytes, message.value.signature),
        `${message.kind} not signed by ${config.name}`)
    }
    if (step.input.kind !== 'Deliver') return
    const { sender, message } = step.input.value
    const part = signedPart(message.kind, message.value, sender)
    if (part === null) return
    const [signer, bytes] = part
    const key = keys.get(signer)
    tally.check('replica signatures received', where,
      key !== undefined && verifySignature(key, bytes, message.value.signature),
      `${message.kind} from ${sender} not signed by ${signer}`)
  })
}
