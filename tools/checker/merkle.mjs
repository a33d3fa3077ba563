// ref: vector checker — SHA-256 and RFC 6962 Merkle trees (audit paths checked as RFC 9162).

import { createHash } from 'node:crypto'

/** SHA-256 of the concatenation of the given byte arrays. */
export function sha256 (...parts) {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return new Uint8Array(hash.digest())
}

const leafHash = (data) => sha256(Uint8Array.of(0), data)
const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right)

// The largest power of two strictly below n (n > 1): where RFC 6962 splits a tree.
function split (n) {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function subtree (hashes) {
  if (hashes.length === 1) return hashes[0]
  const k = split(hashes.length)
  return nodeHash(subtree(hashes.slice(0, k)), subtree(hashes.slice(k)))
}

/** RFC 6962 §2.1 Merkle Tree Hash; the hash of the empty string for no leaves. */
export function merkleRoot (leaves) {
  return leaves.length === 0 ? sha256(new Uint8Array(0)) : subtree(leaves.map(leafHash))
}

function path (m, hashes) {
  if (hashes.length === 1) return []
  const k = split(hashes.length)
  return m < k
    ? [...path(m, hashes.slice(0, k)), subtree(hashes.slice(k))]
    : [...path(m - k, hashes.slice(k)), subtree(hashes.slice(0, k))]
}

/** RFC 6962 §2.1.1 audit path of leaf `index`, nearest sibling first; null outside the tree. */
export function inclusionProof (leaves, index) {
  if (!(index >= 0 && index < leaves.length)) return null
  return path(index, leaves.map(leafHash))
}

/** RFC 9162 §2.1.3.2 verification of an inclusion proof. */
export function verifyInclusion (root, leaf, index, size, proof) {
  if (!(index >= 0 && index < size)) return false
  let fn = BigInt(index)
  let sn = BigInt(size) - 1n
  let result = leafHash(leaf)
  for (const sibling of proof) {
    if (sn === 0n) return false
    if ((fn & 1n) === 1n || fn === sn) {
      result = nodeHash(sibling, result)
      if ((fn & 1n) === 0n) {
        while (fn !== 0n && (fn & 1n) === 0n) {
          fn >>= 1n
          sn >>= 1n
        }
      }
    } else {
      result = nodeHash(result, sibling)
    }
    fn >>= 1n
    sn >>= 1n
  }
  return sn === 0n && Buffer.compare(Buffer.from(result), Buffer.from(root)) === 0
}
