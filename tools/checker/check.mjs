// ref: vector checker — recompute, from a vector tree alone, what the tree states.
//
// Usage: node tools/checker/check.mjs TREE [--quiet]
// Prints one line per check kind (passed / failed / skipped), the first failures with their case
// paths, and exits 1 on any failure. Nothing here imports the reference: every hash, root,
// encoding and signature verdict is derived again from the bytes on disk.

import { checkReplica } from './replica.mjs'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { canonical, isStrict, same, strictDecode } from './cbor.mjs'
import { verifySignature } from './ed25519.mjs'
import { HANDLERS, SKIPPED_HANDLERS } from './handlers.mjs'
import { sha256 } from './merkle.mjs'

const EVENT_DOMAIN = 'aci-ref/event/v1'
const FORMAT = 1
const SHOWN_FAILURES = 8

// Cases where the tree and this checker's reading of the stated rule part ways, each explained.
// They are reported on their own line and are not failures unless --strict-known is given.
// There are none: the tests run with --strict-known, so a new one fails CI.
export const KNOWN = {}

const hex = (bytes) => Buffer.from(bytes).toString('hex')

export class Tally {
  constructor () {
    this.kinds = new Map()
    this.failures = []
    this.known = []
  }

  kind (name) {
    if (!this.kinds.has(name)) this.kinds.set(name, { passed: 0, failed: 0, skipped: 0, why: new Set() })
    return this.kinds.get(name)
  }

  check (name, path, good, detail) {
    if (good) {
      this.kind(name).passed += 1
    } else if (KNOWN[path] !== undefined && !this.strictKnown) {
      this.known.push(`${path}: ${KNOWN[path]}`)
    } else {
      this.kind(name).failed += 1
      this.failures.push(`${name}: ${path}: ${detail}`)
    }
    return good
  }

  skip (name, why) {
    const k = this.kind(name)
    k.skipped += 1
    k.why.add(why)
  }
}

function listFiles (dir) {
  return readdirSync(dir).filter((name) => statSync(join(dir, name)).isFile()).sort()
}

// Every directory holding a meta.json, as a path relative to the tree.
function caseDirectories (tree, dir = tree, found = []) {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    if (!statSync(full).isDirectory()) continue
    if (existsSync(join(full, 'meta.json'))) found.push(relative(tree, full))
    caseDirectories(tree, full, found)
  }
  return found
}

function checkManifest (tree, manifest, tally) {
  tally.check('manifest', '(tree)', manifest.format === FORMAT, `format ${manifest.format}`)
  const listed = new Set()
  for (const { path, sha256: stated } of manifest.cases) {
    listed.add(path)
    const dir = join(tree, path)
    if (!tally.check('manifest', path, existsSync(dir), 'listed but missing')) continue
    const files = new Map(listFiles(dir).map((name) => [name, readFileSync(join(dir, name))]))
    const digest = hex(sha256(canonical(files)))
    tally.check('manifest', path, digest === stated, `case digest ${digest} != ${stated}`)
  }
  const counts = {}
  for (const { path } of manifest.cases) counts[path.split('/')[0]] = (counts[path.split('/')[0]] ?? 0) + 1
  tally.check('manifest', '(counts)', JSON.stringify(counts) === JSON.stringify(manifest.counts),
    `counts ${JSON.stringify(manifest.counts)} != ${JSON.stringify(counts)}`)
  for (const path of caseDirectories(tree)) {
    tally.check('manifest', path, listed.has(path), 'case directory not in the manifest')
  }
  const top = new Set(listFiles(tree))
  top.delete('manifest.json')
  for (const [name, stated] of Object.entries(manifest.files)) {
    top.delete(name)
    const present = existsSync(join(tree, name))
    const digest = present ? hex(sha256(readFileSync(join(tree, name)))) : 'missing'
    tally.check('manifest', name, digest === stated, `tree file ${name}: ${digest} != ${stated}`)
  }
  for (const name of top) tally.check('manifest', name, false, 'tree-level file not in the manifest')
}

function checkEncodings (tree, paths, tally) {
  const files = listFiles(tree).filter((n) => n.endsWith('.cbor'))
  for (const name of files) {
    tally.check('canonical encoding', name, isStrict(readFileSync(join(tree, name))), 'not canonical')
  }
  for (const path of paths) {
    for (const name of listFiles(join(tree, path)).filter((n) => n.endsWith('.cbor'))) {
      const data = readFileSync(join(tree, path, name))
      tally.check('canonical encoding', `${path}/${name}`, isStrict(data), 'not canonical')
    }
  }
}

// The bytes a sender signs: deterministic CBOR of {body, domain, kind, nonce, sender}.
export function signingBytes (kind, event) {
  return canonical({
    body: event.body, domain: EVENT_DOMAIN, kind, nonce: event.nonce, sender: event.sender
  })
}

// The signed events a transaction carries: itself and, for a report, the worker's signed
// SubmitResult it quotes (which travels without its kind: the field names identify it).
function signedParts (tx) {
  const parts = [{ kind: tx.kind, event: tx.event }]
  const quoted = tx.event.body.submission
  const fields = quoted?.body ? Object.keys(quoted.body).sort().join(',') : ''
  if (fields === 'attestation,job_id,output') parts.push({ kind: 'SubmitResult', event: quoted })
  return parts
}

function checkChain (tree, path, meta, tally) {
  const dir = join(tree, path)
  const preBytes = readFileSync(join(dir, 'pre.cbor'))
  tally.check('chain roots', path, hex(sha256(preBytes)) === meta.pre_root, 'pre_root')
  const postFile = join(dir, 'post.cbor')
  const hasPost = existsSync(postFile)
  if (hasPost) {
    const postRoot = hex(sha256(readFileSync(postFile)))
    tally.check('chain roots', path, postRoot === meta.post_root, 'post_root')
  }
  const keys = strictDecode(preBytes).keys
  const steps = strictDecode(readFileSync(join(dir, 'steps.cbor')))
  if (steps.length === 1 && steps[0].rejection !== undefined) {
    tally.check('chain roots', path, meta.rejection === steps[0].rejection, 'meta.rejection')
  }
  let lastRoot = null
  steps.forEach((step, i) => {
    const where = `${path} step ${i}`
    const accepted = step.rejection === undefined
    if (accepted) lastRoot = hex(step.root)
    if (!tally.check('chain events canonical', where, isStrict(step.event), 'event bytes')) return
    const tx = strictDecode(step.event)
    if (!accepted && step.rejection !== 'bad_signature') {
      tally.skip('chain signatures', 'refused for a reason other than the signature')
      return
    }
    const signed = signedParts(tx)
    if (signed.some(({ event }) => keys[event.sender] === undefined)) {
      tally.skip('chain signatures', 'a signer has no key in the pre-state')
      return
    }
    // An accepted step has every signature good; a bad_signature refusal has at least one bad.
    const verdicts = signed.map(({ kind, event }) =>
      verifySignature(keys[event.sender], signingBytes(kind, event), event.signature))
    const good = accepted ? verdicts.every(Boolean) : !verdicts.every(Boolean)
    tally.check('chain signatures', where, good,
      accepted ? 'accepted step whose signature fails' : 'bad_signature step whose signatures verify')
  })
  tally.check('chain roots', path, hasPost === (lastRoot !== null), 'post.cbor present iff a step is accepted')
  if (lastRoot !== null) {
    tally.check('chain roots', path, lastRoot === meta.post_root, `last accepted root ${lastRoot}`)
  }
}

function checkFunction (tree, path, meta, params, tally) {
  const name = `${meta.runner}/${meta.handler}`
  const handler = HANDLERS[name]
  if (handler === undefined) {
    tally.skip(name, SKIPPED_HANDLERS[name] ?? 'no handler in this checker')
    return
  }
  const dir = join(tree, path)
  const input = strictDecode(readFileSync(join(dir, 'input.cbor')))
  let got
  try {
    got = handler(input, params)
  } catch (error) {
    tally.check(name, path, false, `checker threw: ${error.message}`)
    return
  }
  const outFile = join(dir, 'output.cbor')
  if (meta.rejection !== undefined) {
    tally.check(name, path, got.rejection === meta.rejection,
      `tree refuses ${meta.rejection}, recomputed ${got.rejection ?? 'an output'}`)
    return
  }
  if (got.rejection !== undefined) {
    tally.check(name, path, false, `tree gives an output, recomputed refusal ${got.rejection}`)
    return
  }
  const stated = readFileSync(outFile)
  const mine = canonical(got.output)
  tally.check(name, path, same(mine, stated), `output ${hex(stated)} != recomputed ${hex(mine)}`)
}

export function checkTree (tree, { strictKnown = false } = {}) {
  const tally = new Tally()
  tally.strictKnown = strictKnown
  const manifest = JSON.parse(readFileSync(join(tree, 'manifest.json'), 'utf8'))
  checkManifest(tree, manifest, tally)
  const paths = manifest.cases.map((c) => c.path).filter((p) => existsSync(join(tree, p)))
  checkEncodings(tree, paths, tally)
  const params = strictDecode(readFileSync(join(tree, 'params.cbor')))
  for (const path of paths) {
    const dir = join(tree, path)
    let meta
    try {
      meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))
      if (existsSync(join(dir, 'pre.cbor'))) checkChain(tree, path, meta, tally)
      else if (existsSync(join(dir, 'input.cbor'))) checkFunction(tree, path, meta, params, tally)
      else if (existsSync(join(dir, 'config.cbor'))) {
        const read = (name) => strictDecode(readFileSync(join(dir, name)))
        checkReplica(path, read('config.cbor'), read('steps.cbor'), tally)
      } else tally.check('case layout', path, false, 'no pre.cbor, input.cbor or config.cbor')
    } catch (error) {
      tally.check('case layout', path, false, `unreadable: ${error.message}`)
    }
  }
  return tally
}

export function report (tally, print = console.log) {
  for (const [name, k] of [...tally.kinds].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const why = k.skipped ? ` (${[...k.why].join('; ')})` : ''
    print(`${name.padEnd(26)} passed ${String(k.passed).padStart(5)}  failed ${k.failed}  skipped ${k.skipped}${why}`)
  }
  if (tally.known.length) {
    print(`known disagreements: ${tally.known.length} (not failures; --strict-known makes them so)`)
    for (const line of tally.known) print(`  ${line}`)
  }
  for (const line of tally.failures.slice(0, SHOWN_FAILURES)) print(`FAIL ${line}`)
  if (tally.failures.length > SHOWN_FAILURES) print(`... and ${tally.failures.length - SHOWN_FAILURES} more failures`)
  print(tally.failures.length ? `FAILED: ${tally.failures.length} failures` : 'OK: every check passed')
  return tally.failures.length === 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const tree = args.find((a) => !a.startsWith('--'))
  if (tree === undefined) {
    console.error('usage: node check.mjs TREE [--strict-known]')
    process.exit(2)
  }
  const passed = report(checkTree(tree, { strictKnown: args.includes('--strict-known') }))
  process.exit(passed ? 0 : 1)
}
