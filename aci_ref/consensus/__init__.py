"""§4: the dual-track consensus, as pure sans-IO state machines.

Every validator is a value; `step(state, input)` returns the next value and the effects (messages to
send, timers to set, what was committed, what was dropped and why). Nothing here reads a clock, a
socket or a random source: time arrives in each input (`now_ms`, the validator's own clock) and the
only randomness is the threshold beacon, which is a signature.

- `committee`: validators, stakes and quorums (more than 2/3 of stake; more than 1/3 for validity).
- `io`: the inputs and effects every machine speaks, so one simulator drives them all.
- `signing`: domain-separated Ed25519 over canonical CBOR, and the verification cache.
- `dag`: Algorithm 3 — vertices, acknowledgements, certificates, and the total order over them.
- `hotstuff`: §4.3 — Basic HotStuff with its pacemaker.
- `beacon`: Algorithm 2's beacon as a 2f+1-of-3f+1 threshold BLS signature over the height.
- `checkpoint`: §4.4 — Merkle roots of the committed fast-path output, settled by HotStuff.
- `validator`: one validator running both tracks and executing `chain.apply` in one order.
"""
