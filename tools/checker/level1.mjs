// ref: vector checker — Algorithm 2 Level 1 (attestation validation, §3.3) recomputed in JS.
//
// A `poai/level1` case's input is {anchors, attestation, expected, hardware, output, profile}.
// The verdict is { output: {valid: true} } or { rejection } with the code of the first check that
// fails, in the order the reference states: the simulated TEE chain (vendor root -> platform
// certificate -> enclave certificate, then the measurement allow-list), the assigned enclave,
// the enclave's signature of the attestation statement, job id, h_input, h_model,
// h_output = SHA-256(output), freshness, and the metrics consistency bounds (errata E51).
// Every signature covers deterministic CBOR of a map carrying a domain tag, so one kind of
// statement can never be replayed as another.

import { canonical } from './cbor.mjs'
import { verifySignature } from './ed25519.mjs'
import { sha256 } from './merkle.mjs'

const PLATFORM_DOMAIN = 'aci-ref/tee/platform'
const ENCLAVE_DOMAIN = 'aci-ref/tee/enclave'
const ATTESTATION_DOMAIN = 'aci-ref/poai/attestation'
const BPS = 10000n

// The declared machine classes, transcribed from aci_ref/poai/profiles.py HARDWARE_CLASSES.
// The tree names a class but does not carry its figures; when a case does carry them (an input
// field `hardware_class`), they are compared with this table so a drift cannot pass unseen.
const machine = (name, peak, memory) =>
  Object.freeze({ name, peak_flops_per_ms: peak, memory_bytes: memory })
export const HARDWARE_CLASSES = Object.freeze({
  'cpu-small': machine('cpu-small', 50_000_000n, 4n << 30n),
  'gpu-large': machine('gpu-large', 400_000_000_000n, 80n << 30n)
})

class Refused extends Error {
  constructor (rejection, why) {
    super(`${rejection}: ${why}`)
    this.rejection = rejection
  }
}

const refuse = (rejection, why) => { throw new Refused(rejection, why) }
const equal = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
const among = (item, list) => list.some((x) => equal(x, item))

// ---- the shape the reference's typed decoding demands (anything else is bad_input) ----------

const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint'
const isBytes = (v) => v instanceof Uint8Array
const BYTES = isBytes
const INT = isInt
const optional = (test) => (v) => v === null || test(v)
const byteList = (v) => Array.isArray(v) && v.every(isBytes)
const oneOf = (...names) => (v) => names.includes(v)

// A field map must have exactly the declared field names, each passing its test.
function record (fields) {
  return (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !isBytes(v) &&
    JSON.stringify(Object.keys(v).sort()) === JSON.stringify(Object.keys(fields).sort()) &&
    Object.entries(fields).every(([name, test]) => test(v[name]))
}

const CERTIFICATE = record({
  kind: oneOf('platform', 'enclave'), issuer: BYTES, measurement: BYTES, signature: BYTES, subject: BYTES
})
const METRICS = record({ flops: INT, gpu_util_bps: INT, memory_bytes: INT })
const SHAPES = {
  anchors: record({ measurements: byteList, vendor_roots: byteList }),
  attestation: record({
    duration_ms: INT,
    enclave_cert: CERTIFICATE,
    h_input: BYTES,
    h_model: BYTES,
    h_output: BYTES,
    job_id: BYTES,
    metrics: METRICS,
    platform_cert: CERTIFICATE,
    signature: BYTES,
    t_start_ms: INT
  }),
  expected: record({
    enclave_key: optional(BYTES),
    h_input: BYTES,
    h_model: BYTES,
    job_id: BYTES,
    not_after_ms: optional(INT),
    not_before_ms: INT
  }),
  output: BYTES,
  profile: record({ flops_per_input: INT, weight_bytes: INT })
}

// ---- the simulated TEE chain -----------------------------------------------------------------

function certificateBytes (cert) {
  return canonical({
    domain: cert.kind === 'platform' ? PLATFORM_DOMAIN : ENCLAVE_DOMAIN,
    issuer: cert.issuer,
    measurement: cert.measurement,
    subject: cert.subject
  })
}

/** TEE_VERIFY of the simulated chain: the certified enclave key, or a refusal. */
export function verifyChain (platform, enclave, anchors) {
  const bad = 'attestation_bad_cert_chain'
  if (platform.kind !== 'platform' || enclave.kind !== 'enclave') refuse(bad, 'kinds out of order')
  if (!among(platform.issuer, anchors.vendor_roots)) refuse(bad, 'issuer is not a trusted vendor root')
  if (!verifySignature(platform.issuer, certificateBytes(platform), platform.signature)) {
    refuse(bad, 'vendor signature on the platform certificate')
  }
  if (!equal(enclave.issuer, platform.subject)) refuse(bad, 'enclave certificate from another platform')
  if (!verifySignature(enclave.issuer, certificateBytes(enclave), enclave.signature)) {
    refuse(bad, 'platform signature on the enclave certificate')
  }
  if (!among(enclave.measurement, anchors.measurements)) {
    refuse('attestation_unknown_measurement', 'program not on the allow-list')
  }
  return enclave.subject
}

/** The statement an enclave signs: every attestation field but certificates and signature. */
export function attestationStatement (a) {
  return canonical({
    domain: ATTESTATION_DOMAIN,
    duration_ms: a.duration_ms,
    h_input: a.h_input,
    h_model: a.h_model,
    h_output: a.h_output,
    job_id: a.job_id,
    metrics: a.metrics,
    t_start_ms: a.t_start_ms
  })
}

// ---- metrics consistency (errata E51) --------------------------------------------------------

function checkMetrics (metrics, durationMs, profile, hardware, params) {
  const bad = 'metrics_inconsistent'
  const flops = BigInt(metrics.flops)
  const memory = BigInt(metrics.memory_bytes)
  const util = BigInt(metrics.gpu_util_bps)
  const duration = BigInt(durationMs)
  if (flops < 0n || memory < 0n || duration < 0n) refuse(bad, 'negative metric')
  if (util < 0n || util > BPS) refuse(bad, `utilisation ${util} bps`)
  const known = BigInt(profile.flops_per_input)
  const gap = flops > known ? flops - known : known - flops
  if (gap * BPS > BigInt(params.metrics_flops_tolerance_bps) * known) {
    refuse(bad, `claimed ${flops} FLOPs, model needs ${known}`)
  }
  // flops is known non-negative here, so BigInt's truncating division gives the ceiling this way.
  const shortest = (flops + hardware.peak_flops_per_ms - 1n) / hardware.peak_flops_per_ms
  if (duration < shortest) refuse(bad, `${duration} ms below ${shortest} ms on ${hardware.name}`)
  if (memory < BigInt(profile.weight_bytes)) refuse(bad, 'memory below the weights')
  if (memory > hardware.memory_bytes) refuse(bad, `memory above ${hardware.name}'s`)
}

// ---- Level 1 ---------------------------------------------------------------------------------

function hardwareOf (input) {
  const name = input.hardware
  if (typeof name !== 'string' || !Object.hasOwn(HARDWARE_CLASSES, name)) {
    refuse('bad_input', 'unknown hardware class')
  }
  const hardware = HARDWARE_CLASSES[name]
  const stated = input.hardware_class
  if (stated !== undefined) {
    const figure = (field) => isInt(stated?.[field]) && BigInt(stated[field]) === hardware[field]
    const same = stated?.name === hardware.name && figure('peak_flops_per_ms') && figure('memory_bytes')
    // Not a verdict of the rule but a fault of this checker's transcription: throw, so it fails.
    if (!same) throw new Error(`the case's hardware_class differs from the table for ${hardware.name}`)
  }
  return hardware
}

function checkAttestation (input, params) {
  const hardware = hardwareOf(input)
  for (const [name, test] of Object.entries(SHAPES)) {
    if (!test(input[name])) refuse('bad_input', `input field ${name}`)
  }
  const { anchors, attestation: a, expected, output, profile } = input
  const enclaveKey = verifyChain(a.platform_cert, a.enclave_cert, anchors)
  if (expected.enclave_key !== null && !equal(enclaveKey, expected.enclave_key)) {
    refuse('attestation_bad_cert_chain', 'not the assigned enclave')
  }
  if (!verifySignature(enclaveKey, attestationStatement(a), a.signature)) {
    refuse('attestation_bad_signature', 'enclave signature')
  }
  if (!equal(a.job_id, expected.job_id)) refuse('attestation_wrong_job', 'job id')
  if (!equal(a.h_input, expected.h_input)) refuse('attestation_wrong_input', 'h_input')
  if (!equal(a.h_model, expected.h_model)) refuse('attestation_wrong_model', 'h_model')
  if (!equal(a.h_output, sha256(output))) refuse('attestation_wrong_output', 'h_output')
  const start = BigInt(a.t_start_ms)
  if (start < BigInt(expected.not_before_ms)) refuse('attestation_stale', 'started before escrow')
  if (expected.not_after_ms !== null && start + BigInt(a.duration_ms) > BigInt(expected.not_after_ms)) {
    refuse('attestation_stale', 'ended after the deadline')
  }
  checkMetrics(a.metrics, a.duration_ms, profile, hardware, params)
}

/** The `poai/level1` handler: { output: {valid: true} } or { rejection, why }. */
export function level1 (input, params) {
  try {
    checkAttestation(input, params)
  } catch (error) {
    if (error instanceof Refused) return { rejection: error.rejection, why: error.message }
    throw error
  }
  return { output: { valid: true } }
}
