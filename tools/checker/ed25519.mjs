// ref: vector checker — the protocol's Ed25519 rule (spec/crypto.md SIG, errata E110) in JS.
//
// Accept when: the key is 32 bytes and the signature 64; S < L; the key's y (its low 255 bits)
// is below p; neither the key nor R is a point of small order; and the cofactorless RFC 8032
// equation holds (Node's crypto.verify, OpenSSL). Small order is decided here by arithmetic on
// the curve ([8]P is the identity), not by a list of encodings, so this is a second derivation of
// the reference's table rather than a copy of it.

import { createPublicKey, verify as nodeVerify } from 'node:crypto'

const P = (1n << 255n) - 19n
const L = (1n << 252n) + 27742317777372353535851937790883648493n
const D = mod(-121665n * inverse(121666n))
const SQRT_M1 = power(2n, (P - 1n) / 4n)
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function mod (a) {
  const r = a % P
  return r < 0n ? r + P : r
}

function power (base, exp) {
  let result = 1n
  let b = mod(base)
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P
    b = (b * b) % P
  }
  return result
}

function inverse (a) {
  return power(a, P - 2n)
}

function littleEndian (bytes) {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i])
  return n
}

// Twisted Edwards addition with a = -1 in affine form; complete on this curve since d is not a
// square, so doubling needs no special case.
function add ([x1, y1], [x2, y2]) {
  const t = mod(D * x1 * x2 * y1 * y2)
  return [mod((x1 * y2 + y1 * x2) * inverse(1n + t)), mod((y1 * y2 + x1 * x2) * inverse(1n - t))]
}

/**
 * The point a 32-byte string names, reading y modulo p (so the aliases y + p name the same point
 * as y), or null when no x fits. The sign bit chooses x; for x = 0 either bit gives the point.
 */
function decodeLoose (bytes) {
  const y = mod(littleEndian(bytes) & ((1n << 255n) - 1n))
  const sign = bytes[31] >> 7
  const u = mod(y * y - 1n)
  const v = mod(D * y * y + 1n)
  let x = mod(u * power(v, 3n) * power(u * power(v, 7n), (P - 5n) / 8n))
  const check = mod(v * x * x)
  if (check === mod(-u)) x = mod(x * SQRT_M1)
  else if (check !== u) return null
  if (x !== 0n && Number(x & 1n) !== sign) x = P - x
  return [x, y]
}

/** True when `bytes` name a curve point whose order divides 8. */
export function isSmallOrder (bytes) {
  let point = decodeLoose(bytes)
  if (point === null) return false
  for (let i = 0; i < 3; i++) point = add(point, point)
  return point[0] === 0n && point[1] === 1n
}

/** The first pre-check that fails, by the reference's names, or null. */
export function precheck (publicKey, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return 'length'
  if (littleEndian(signature.subarray(32)) >= L) return 's_not_reduced'
  if ((littleEndian(publicKey) & ((1n << 255n) - 1n)) >= P) return 'a_non_canonical'
  if (isSmallOrder(publicKey)) return 'a_small_order'
  if (isSmallOrder(signature.subarray(0, 32))) return 'r_small_order'
  return null
}

/** The protocol's verdict on `signature` over `message` under `publicKey` (all Uint8Array). */
export function verifySignature (publicKey, message, signature) {
  if (precheck(publicKey, signature) !== null) return false
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, publicKey]),
      format: 'der',
      type: 'spki'
    })
    return nodeVerify(null, message, key, signature)
  } catch {
    return false // a key that is no curve point
  }
}
