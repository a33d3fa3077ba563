// ref: vector checker — self-test: planted one-byte faults must be caught.
//
// Usage: node tools/checker/selftest.mjs TREE
// Copies TREE to a temporary directory, checks the clean copy passes, then for each fault flips
// one byte in one case file and checks the checker fails on that case: once with the manifest
// left stale (the manifest check must catch it) and once with the case digest recomputed (the
// recomputation of that kind must catch it on its own). Exits non-zero if any fault slips by.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonical, strictDecode } from './cbor.mjs'
import { checkTree } from './check.mjs'
import { sha256 } from './merkle.mjs'

function firstCase (manifest, prefix) {
  const found = manifest.cases.find((c) => c.path.startsWith(prefix))
  if (found === undefined) throw new Error(`no case under ${prefix}`)
  return found.path
}

// Each fault: which case, which file, and where in it the byte to flip lies.
function faults (tree, manifest) {
  // A byte in the middle of a signature, so the verdict it decides must flip.
  const inside = (path, file, signature) =>
    readFileSync(join(tree, path, file)).indexOf(Buffer.from(signature)) + 10
  const transfer = manifest.cases.find((c) => /^chain\/transfer\/(?!refused\/)/.test(c.path)).path
  const steps = strictDecode(readFileSync(join(tree, transfer, 'steps.cbor')))
  const signed = strictDecode(steps[0].event).event.signature
  const root = firstCase(manifest, 'merkle/root/sizes/')
  const vote = firstCase(manifest, 'consensus/vote/votes/valid')
  const voted = strictDecode(readFileSync(join(tree, vote, 'input.cbor'))).vote.signature
  // The honest Level 1 case: its enclave signature decides the attestation_bad_signature check
  // and its platform certificate's signature the chain check, so each flip must turn the verdict.
  const honest = firstCase(manifest, 'poai/level1/attestations/honest')
  const attested = strictDecode(readFileSync(join(tree, honest, 'input.cbor'))).attestation
  return [
    { kind: 'chain signatures', path: transfer, file: 'steps.cbor', at: inside(transfer, 'steps.cbor', signed) },
    { kind: 'merkle/root', path: root, file: 'output.cbor', at: -1 },
    { kind: 'consensus/vote', path: vote, file: 'input.cbor', at: inside(vote, 'input.cbor', voted) },
    { kind: 'poai/level1', path: honest, file: 'input.cbor', at: inside(honest, 'input.cbor', attested.signature) },
    {
      kind: 'poai/level1',
      path: honest,
      file: 'input.cbor',
      at: inside(honest, 'input.cbor', attested.platform_cert.signature)
    }
  ]
}

function plant (copy, manifest, fault, redigest) {
  const file = join(copy, fault.path, fault.file)
  const original = readFileSync(file)
  const data = Buffer.from(original)
  const at = fault.at < 0 ? data.length + fault.at : fault.at
  data[at] ^= 0x01
  writeFileSync(file, data)
  const manifestFile = join(copy, 'manifest.json')
  const manifestText = readFileSync(manifestFile)
  if (redigest) {
    const dir = join(copy, fault.path)
    const names = JSON.parse(readFileSync(join(dir, 'meta.json'))).parts.map((p) => `${p}.cbor`)
    const files = new Map([...names, 'meta.json'].map((n) => [n, readFileSync(join(dir, n))]))
    const edited = structuredClone(manifest)
    edited.cases.find((c) => c.path === fault.path).sha256 =
      Buffer.from(sha256(canonical(files))).toString('hex')
    writeFileSync(manifestFile, JSON.stringify(edited, null, 2) + '\n')
  }
  const tally = checkTree(copy)
  writeFileSync(file, original)
  writeFileSync(manifestFile, manifestText)
  return tally
}

const tree = process.argv[2]
if (tree === undefined) {
  console.error('usage: node selftest.mjs TREE')
  process.exit(2)
}
const copy = mkdtempSync(join(tmpdir(), 'aci-checker-'))
let slipped = 0
try {
  cpSync(tree, copy, { recursive: true })
  const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'))
  const clean = checkTree(copy)
  console.log(`clean copy: ${clean.failures.length} failures`)
  if (clean.failures.length) slipped += 1
  for (const fault of faults(copy, manifest)) {
    for (const redigest of [false, true]) {
      const tally = plant(copy, manifest, fault, redigest)
      const expect = redigest ? fault.kind : 'manifest'
      const hit = tally.failures.filter((f) => f.startsWith(`${expect}: ${fault.path}`))
      const manifestFailed = tally.kind('manifest').failed > 0
      const good = hit.length > 0 && (!redigest || !manifestFailed)
      if (!good) slipped += 1
      const how = redigest ? 'manifest re-digested' : 'manifest stale'
      console.log(`${good ? 'caught' : 'MISSED'}: ${fault.path}/${fault.file} (${how}): ` +
        `${hit[0] ?? `no ${expect} failure`}`)
    }
  }
} finally {
  rmSync(copy, { recursive: true, force: true })
}
console.log(slipped ? `SELFTEST FAILED: ${slipped}` : 'selftest: every planted fault was caught')
process.exit(slipped ? 1 : 0)
