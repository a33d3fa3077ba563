"""Proof of AI (§3): attestations, the simulated TEE, the three levels of verification, votes.

- `tee`: a SIMULATED TEE — vendor root → platform key → enclave key + measurement (DESIGN §4);
- `attestation`: Definition 2's attestation, signed by an enclave and bound to its job;
- `verification`: Algorithm 2, one function per level, and `verify_job` running them in order;
- `matching`: §3.4's comparison rules (exact, ε_num, seed pinning + ε_KL) and output formats;
- `quality`: Level 3's quality score; `votes`: committees and stake-weighted vote tallies;
- `evidence`: checkable proof material for Table 2's slashes (wrong output, invalid attestation,
  Sybil);
- `profiles`: model and hardware figures for the metrics check;
- `workloads`: the tiny real torch models (the only module here that imports torch).
"""
