// ref: vector checker — the protocol's CBOR rules (RFC 8949 §4.2.1) recomputed in JavaScript.
//
// cborg does the decoding and the deterministic encoding. It cannot, on its own, tell apart the
// two kinds of refusal the `encoding/canonical` handler makes (bytes that are not one CBOR item at
// all, and well-formed items holding types the protocol has no place for: cborg throws on both
// alike), nor does it see a float that happens to round-trip or text that is not UTF-8. So a
// small well-formedness walk (RFC 8949 Appendix C) classifies the bytes first, and cborg is then
// asked to decode and re-encode.

import { decode, encode, rfc8949EncodeOptions, Tokenizer, Type } from 'cborg'

// Arrays and maps may nest at most this deep, as the reference's encoder allows.
export const MAX_DEPTH = 64

export class Malformed extends Error {}

// Past MAX_DEPTH enclosing arrays, maps and tags the walk stops: unsupported, whatever follows.
export class TooDeep extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })

// Decoding options under which cborg itself refuses every non-shortest head, indefinite length,
// undefined, tag, duplicate or non-text map key.
const STRICT = Object.freeze({
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: true,
  useMaps: false,
  rejectDuplicateMapKeys: true,
  retainStringBytes: true
})

// cborg decodes floats to JS numbers, and 1.5 re-encodes to the same bytes, so floats are refused
// at the token; text is checked here too, as cborg would replace bad UTF-8 silently.
class ProtocolTokenizer extends Tokenizer {
  next () {
    const token = super.next()
    if (token.type === Type.float) throw new Error('float')
    if (token.type === Type.string) utf8.decode(token.byteValue)
    return token
  }
}

/** Deterministic CBOR of a JS value (Map or plain object for maps, Uint8Array for bytes). */
export function canonical (value) {
  return encode(value, rfc8949EncodeOptions)
}

/** Bytes equality. */
export function same (a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length),
    Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
}

/**
 * Walk one data item starting at `pos`. Returns { value, end, unsupported } where `unsupported`
 * names the first protocol-foreign thing met (or null). Throws Malformed when the bytes are not
 * well-formed CBOR or text is not UTF-8 (both are "not one CBOR item" to the reference).
 */
export function walk (data, pos = 0, depth = 0, state = { unsupported: null }) {
  const note = (why) => { if (state.unsupported === null) state.unsupported = why }
  const need = (n) => { if (pos + n > data.length) throw new Malformed('truncated') }
  need(1)
  const initial = data[pos++]
  const major = initial >> 5
  const info = initial & 31
  let arg = null // null: indefinite length
  if (info < 24) arg = BigInt(info)
  else if (info <= 27) {
    const n = 1 << (info - 24)
    need(n)
    arg = 0n
    for (let i = 0; i < n; i++) arg = (arg << 8n) | BigInt(data[pos++])
  } else if (info !== 31) throw new Malformed(`reserved additional information ${info}`)
  if (arg === null && (major === 0 || major === 1 || major === 6)) {
    throw new Malformed('indefinite length on a type that has none')
  }
  const result = (value) => ({ value, end: pos, unsupported: state.unsupported })
  const small = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n)
  switch (major) {
    case 0: return result(small(arg))
    case 1: return result(arg < BigInt(Number.MAX_SAFE_INTEGER) ? -1 - Number(arg) : -1n - arg)
    case 2: case 3: {
      const chunks = []
      if (arg === null) {
        for (;;) {
          need(1)
          if (data[pos] === 0xff) { pos++; break }
          if (data[pos] >> 5 !== major || (data[pos] & 31) === 31) {
            throw new Malformed('an indefinite string holds a chunk of another kind')
          }
          const chunk = walk(data, pos, depth, state)
          chunks.push(major === 2 ? chunk.value : Buffer.from(chunk.value, 'utf8'))
          pos = chunk.end
        }
      } else {
        if (arg > BigInt(data.length - pos)) throw new Malformed('truncated string')
        chunks.push(data.subarray(pos, pos + Number(arg)))
        pos += Number(arg)
      }
      const bytes = Uint8Array.from(Buffer.concat(chunks))
      if (major === 2) return result(bytes)
      try {
        return result(utf8.decode(bytes))
      } catch {
        throw new Malformed('text that is not UTF-8')
      }
    }
    case 4: case 5: {
      if (depth >= MAX_DEPTH) throw new TooDeep(`nested deeper than ${MAX_DEPTH}`)
      const items = []
      const map = new Map()
      for (let i = 0n; arg === null || i < arg; i++) {
        need(1)
        if (arg === null && data[pos] === 0xff) { pos++; break }
        const first = walk(data, pos, depth + 1, state)
        pos = first.end
        if (major === 4) { items.push(first.value); continue }
        if (typeof first.value !== 'string') note('non-text map key')
        const second = walk(data, pos, depth + 1, state)
        pos = second.end
        if (typeof first.value === 'string' && map.has(first.value)) note('a map with two equal keys')
        map.set(first.value, second.value)
      }
      return result(major === 4 ? items : map)
    }
    case 6: {
      note(`tag ${arg}`)
      if (depth >= MAX_DEPTH) throw new TooDeep(`nested deeper than ${MAX_DEPTH}`)
      const inner = walk(data, pos, depth + 1, state)
      pos = inner.end
      return result(inner.value)
    }
    default: {
      if (arg === null) throw new Malformed('break outside an indefinite item')
      if (info === 20) return result(false)
      if (info === 21) return result(true)
      if (info === 22) return result(null)
      if (info === 24 && arg < 32n) throw new Malformed('two-byte simple value below 32')
      note(info >= 25 ? 'float' : info === 23 ? 'undefined' : `simple value ${arg}`)
      return result(null)
    }
  }
}

/**
 * The `encoding/canonical` rule: { canonical } or { rejection }. Not exactly one well-formed item
 * is bad_input; a well-formed item holding anything but the protocol's types is refused.
 */
export function canonicalForm (data) {
  let walked
  try {
    walked = walk(data)
  } catch (error) {
    if (error instanceof Malformed) return { rejection: 'bad_input', why: error.message }
    if (error instanceof TooDeep) return { rejection: 'encoding_unsupported_type', why: error.message }
    throw error
  }
  if (walked.end !== data.length) return { rejection: 'bad_input', why: 'bytes after the item' }
  if (walked.unsupported !== null) {
    return { rejection: 'encoding_unsupported_type', why: walked.unsupported }
  }
  return { canonical: canonical(walked.value) }
}

/**
 * Strict decoding: the value, when `data` is exactly the deterministic encoding of a value of
 * the protocol's types; otherwise throws with the reason.
 */
export function strictDecode (data) {
  const walked = walk(data)
  if (walked.end !== data.length) throw new Error('bytes after the item')
  if (walked.unsupported !== null) throw new Error(walked.unsupported)
  const value = decode(data, { ...STRICT, tokenizer: new ProtocolTokenizer(data, STRICT) })
  if (!same(canonical(value), data)) throw new Error('not the deterministic encoding')
  return value
}

/** True when `strictDecode` accepts `data`. */
export function isStrict (data) {
  try {
    strictDecode(data)
    return true
  } catch {
    return false
  }
}
