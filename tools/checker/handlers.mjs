// ref: vector checker — the function handlers recomputed from a case's input alone.
//
// Each handler takes (input, params) and returns { output } (a JS value whose deterministic
// encoding must equal output.cbor byte for byte) or { rejection } (the code meta.json states).
// Handlers whose outcome rests on state machines this checker does not carry (slashing, the
// market maker) are absent: their cases are counted as skipped. Level 1 lives in level1.mjs.

import { canonical, canonicalForm, isStrict } from './cbor.mjs'
import { verifySignature } from './ed25519.mjs'
import { level1 } from './level1.mjs'
import { inclusionProof, merkleRoot, sha256, verifyInclusion } from './merkle.mjs'

const CONSENSUS = 'aci-ref/consensus/'
const CERTIFICATE_TAG = 'aci-ref/dag/certificate'
const BPS = 10000n

const reject = (rejection) => ({ rejection })
const ok = (output) => ({ output })
const compare = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))

// A consensus signature covers the deterministic CBOR of [domain tag, payload].
function signedBytes (domain, payload) {
  return canonical([CONSENSUS + domain, payload])
}

// A committee as the handlers receive it: validators {name, public_key, stake}.
function committee (input) {
  const members = new Map(input.validators.map((v) => [v.name, v]))
  const total = input.validators.reduce((sum, v) => sum + BigInt(v.stake), 0n)
  const quorum = (total * 2n) / 3n + 1n
  const isQuorum = (names) =>
    [...new Set(names)].reduce((s, n) => s + BigInt(members.get(n)?.stake ?? 0), 0n) >= quorum
  return { member: (name) => members.get(name), isQuorum }
}

const GENESIS_BLOCK = {
  height: 0, parent: new Uint8Array(32), payload: [], time_ms: 0, proposer: '', view: 0
}
const GENESIS_QC = canonical({
  phase: 'prepare', view: 0, block: sha256(canonical(GENESIS_BLOCK)), signers: []
})

function qc (input) {
  const cert = input.qc
  if (compare(canonical(cert), GENESIS_QC) === 0) return ok({ signatures_checked: 0, valid: true })
  if (cert.view < 1) return reject('bad_input')
  const names = cert.signers.map(([name]) => name)
  if (new Set(names).size !== names.length) return reject('duplicate_signer')
  const c = committee(input)
  if (names.some((n) => c.member(n) === undefined)) return reject('not_validator')
  if (!c.isQuorum(names)) return reject('undersigned_certificate')
  const message = signedBytes('hotstuff/vote', [cert.phase, cert.view, cert.block])
  let checked = 0
  for (const [name, signature] of cert.signers) {
    checked += 1
    if (!verifySignature(c.member(name).public_key, message, signature)) {
      return reject('bad_signature')
    }
  }
  return ok({ signatures_checked: checked, valid: true })
}

function vote (input) {
  const v = input.vote
  const member = committee(input).member(v.signer)
  const message = signedBytes('hotstuff/vote', [v.phase, v.view, v.block])
  return ok({ valid: member !== undefined && verifySignature(member.public_key, message, v.signature) })
}

function vertex (input) {
  const v = input.vertex
  const c = committee(input)
  if (v.round === 1 && v.parents.length > 0) return reject('bad_parents')
  if (v.round > 1 && v.parents.length === 0) return reject('bad_parents')
  for (let i = 1; i < v.parents.length; i++) {
    if (compare(v.parents[i - 1], v.parents[i]) >= 0) return reject('bad_parents')
  }
  if (v.parents.length > input.validators.length) return reject('bad_parents')
  const author = c.member(v.author)
  const message = signedBytes('vertex', [v.round, v.author, v.parents, v.batch])
  if (author === undefined || !verifySignature(author.public_key, message, v.signature)) {
    return reject('bad_signature')
  }
  return ok({ digest: sha256(canonical(v)), valid: true })
}

function certificate (input) {
  const { vertex: v, signers } = input.certificate
  const c = committee(input)
  const names = signers.map(([name]) => name)
  for (let i = 1; i < names.length; i++) {
    if (names[i - 1] === names[i]) return reject('duplicate_signer')
    // Python orders str by code point; UTF-8 bytes order the same way.
    if (compare(Buffer.from(names[i - 1]), Buffer.from(names[i])) > 0) return reject('bad_input')
  }
  if (names.some((n) => c.member(n) === undefined)) return reject('not_validator')
  if (!c.isQuorum(names)) return reject('undersigned_certificate')
  const digest = sha256(canonical(v))
  for (const [name, signature] of signers) {
    const message = signedBytes('ack', [digest, v.round, v.author, name])
    if (!verifySignature(c.member(name).public_key, message, signature)) {
      return reject('bad_signature')
    }
  }
  return ok({ digest: sha256(canonical([CERTIFICATE_TAG, digest])), valid: true })
}

function checkpointRoot (input) {
  const first = BigInt(input.first_sequence)
  const leaves = input.items.map((item, i) => canonical([first + BigInt(i), item]))
  return ok({ root: merkleRoot(leaves) })
}

function feeSplit (input, params) {
  const amount = BigInt(input.amount)
  if (amount < 0n) return reject('non_positive_amount')
  const share = (name) => (amount * BigInt(params[name])) / BPS // BigInt division floors here
  const validators = share('fee_validators_bps')
  const verifiers = share('fee_verifiers_bps')
  const lps = share('fee_lps_bps')
  const burned = share('fee_burn_bps')
  const worker = amount - validators - verifiers - lps - burned
  return ok({ burned, lps, validators, verifiers, worker })
}

function sampling (input, params) {
  const [num, den] = params.sampling_rate.map(BigInt)
  const draw = BigInt('0x' + Buffer.from(sha256(input.beacon, input.job_id)).toString('hex'))
  return ok({ selected: draw * den < num * (1n << 256n) })
}

function canonicalHandler (input) {
  const found = canonicalForm(input.cbor)
  return found.rejection ? reject(found.rejection) : ok({ canonical: found.canonical })
}

export const HANDLERS = {
  'consensus/block_digest': (input) => ok({ digest: sha256(canonical(input.block)) }),
  'consensus/certificate': certificate,
  'consensus/checkpoint_root': checkpointRoot,
  'consensus/qc': qc,
  'consensus/vertex': vertex,
  'consensus/vote': vote,
  'crypto/ed25519_verify': (input) =>
    ok({ valid: verifySignature(input.public, input.message, input.signature) }),
  'crypto/sha256': (input) => ok({ digest: sha256(input.data) }),
  'economics/fee_split': feeSplit,
  'encoding/canonical': canonicalHandler,
  'encoding/strict_decode': (input) =>
    isStrict(input.cbor) ? ok({ valid: true }) : reject('encoding_not_canonical'),
  'merkle/proof': (input) => {
    const proof = inclusionProof(input.leaves, Number(input.index))
    return proof === null ? reject('bad_merkle_proof') : ok({ proof })
  },
  'merkle/root': (input) => ok({ root: merkleRoot(input.leaves) }),
  'merkle/verify': (input) => ok({
    valid: verifyInclusion(input.root, input.leaf, input.index, input.size, input.proof)
  }),
  'poai/level1': level1,
  'poai/sampling': sampling
}

export const SKIPPED_HANDLERS = {
  'economics/slash': 'Table 2 slashing needs the ledger state machine',
  'hmm/buy': 'the market maker is not re-implemented here',
  'hmm/quote': 'the market maker is not re-implemented here'
}
