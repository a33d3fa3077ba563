"""The tiny real models: determinism, profiles, inputs, seed pinning, honest and lazy runs."""

from __future__ import annotations

from fractions import Fraction

import pytest

from aci_ref.errors import RejectedError, Rejection
from aci_ref.params import default_params
from aci_ref.poai.matching import OutputKind, compare_outputs, decode_numeric, decode_sampled
from aci_ref.poai.workloads import (
    LAZY_MODES,
    VARIANTS,
    VOCAB,
    CharLmWorkload,
    MlpWorkload,
    Workload,
    get_workload,
    lazy_output,
    make_input,
    seed_from_job,
    workload_by_model_hash,
    workload_ids,
)

PARAMS = default_params()
MLP = get_workload("mlp-64-128-16")
LM = get_workload("charlm-d32-l2")
# honest ways to run a job on "other hardware": (worker run, verifier re-execution) settings
HONEST = [
    ({"variant": "reference", "threads": 1}, {"variant": "reference", "threads": 1}),
    ({"variant": "batched", "threads": 1}, {"variant": "reference", "threads": 1}),
    ({"variant": "float64", "threads": 1}, {"variant": "batched", "threads": 1}),
    ({"variant": "reference", "threads": 2}, {"variant": "float64", "threads": 1}),
]


def test_registry() -> None:
    assert workload_ids() == ("charlm-d32-l2", "mlp-64-128-16")
    assert (MLP.kind, LM.kind) == (OutputKind.NUMERIC, OutputKind.SAMPLED)
    assert MLP.resource_class == LM.resource_class == "cpu-small"
    assert workload_by_model_hash(LM.h_model) is LM
    for unknown in ("gpt-5", "mlp-64-128-16/cheap"):
        with pytest.raises(RejectedError) as refused:
            get_workload(unknown)
        assert refused.value.rejection is Rejection.UNKNOWN_MODEL
    with pytest.raises(RejectedError):
        workload_by_model_hash(b"\x00" * 32)
    assert len(VOCAB) == len(set(VOCAB)) == 64


def test_weights_are_generated_deterministically() -> None:
    again = MlpWorkload("mlp-64-128-16", 64, 128, 16, "cpu-small")
    assert again.h_model == MLP.h_model
    assert MlpWorkload("another id", 64, 128, 16, "cpu-small").h_model != MLP.h_model
    # known answers: the weights are the same bytes on every machine and run
    assert MLP.h_model.hex()[:16] == "a15ddf59ca1377d1"
    assert LM.h_model.hex()[:16] == "0b6a74b6ddcd2187"


def test_profiles_follow_the_architecture() -> None:
    assert MLP.profile().flops_per_input == 2 * (64 * 128 + 128 * 16)
    assert MLP.profile().weight_bytes == 4 * (64 * 128 + 128 + 128 * 16 + 16)
    assert isinstance(LM, CharLmWorkload)
    d, v = 32, 64

    def forward(n: int) -> int:
        attention = 2 * n * d * 3 * d + 4 * n * n * d + 2 * n * d * d
        return 2 * (attention + 16 * n * d * d) + 2 * d * v

    assert LM.profile().flops_per_input == sum(forward(n) for n in range(16, 32))
    params = 64 * d + 32 * d + 2 * (4 * d + 3 * d * d + 3 * d + d * d + d + 8 * d * d + 5 * d)
    assert LM.profile().weight_bytes == 4 * (params + 2 * d + d * v + v)


def test_inputs_are_deterministic_and_checked() -> None:
    assert make_input(MLP, 3) == make_input(MLP, 3) != make_input(MLP, 4)
    assert len(make_input(MLP, 0)) == 256
    prompt = make_input(LM, 0).decode("ascii")
    assert len(prompt) == 16 and set(prompt) <= set(VOCAB)
    bad_inputs: list[tuple[Workload, bytes]] = [
        (MLP, b"\x00" * 255),
        (MLP, b"\x00\x00\xc0\x7f" * 64),  # NaN
        (LM, b"too short"),
        (LM, b"sixteen chars!!!"),  # "!" is not in the vocabulary
        (LM, "ééééééééééééééé".encode()),
    ]
    for workload, data in bad_inputs:
        with pytest.raises(RejectedError) as refused:
            workload.run(data, 1)
        assert refused.value.rejection is Rejection.INPUT_UNRUNNABLE
        with pytest.raises(RejectedError):
            workload.check_input(data)
    MLP.check_input(make_input(MLP, 0))
    LM.check_input(make_input(LM, 0))
    for kwargs in ({"variant": "fp16"}, {"threads": 0}):
        with pytest.raises(RejectedError):
            MLP.run(make_input(MLP, 0), 1, **kwargs)
    with pytest.raises(RejectedError):
        make_input(MLP, -1)
    with pytest.raises(RejectedError):
        lazy_output(MLP, make_input(MLP, 0), "bribe", 1)


def test_outputs_have_their_format() -> None:
    assert decode_numeric(MLP.run(make_input(MLP, 0), 0)).shape == (16,)
    out = decode_sampled(LM.run(make_input(LM, 0), seed_from_job(b"j")))
    assert len(out.tokens) == 16 and out.probs.shape == (16, 64)
    assert all(abs(float(row.sum()) - 1) < 1e-5 for row in out.probs)


def test_seed_pinning_reproduces_tokens() -> None:
    data = make_input(LM, 1)
    seed = seed_from_job(b"job-77")
    first = LM.run(data, seed)
    assert LM.run(data, seed) == first  # exactly the same bytes on a rerun
    tokens = decode_sampled(first).tokens
    for worker, _ in HONEST:
        assert decode_sampled(LM.run(data, seed, **worker)).tokens == tokens  # type: ignore[arg-type]
    assert decode_sampled(LM.run(data, seed_from_job(b"job-78"))).tokens != tokens
    replay = decode_sampled(LM.reference_output(data, seed, first))
    assert replay.tokens == tokens


def honest_measures(workload: Workload, inputs: int) -> list[Fraction | None]:
    """Every honest (worker, verifier) pair over `inputs` inputs; asserts each one matches."""
    measures = []
    for index in range(inputs):
        data = make_input(workload, index)
        seed = seed_from_job(b"fp-%d" % index)
        for worker, verifier in HONEST:
            claimed = workload.run(data, seed, **worker)  # type: ignore[arg-type]
            reference = workload.reference_output(data, seed, claimed, **verifier)  # type: ignore[arg-type]
            result = compare_outputs(workload.kind, claimed, reference, PARAMS)
            assert result.match, (workload.model_id, index, worker, verifier, result)
            measures.append(result.measure)
    return measures


def test_honest_variants_never_fail_and_keep_a_wide_margin() -> None:
    mlp = honest_measures(MLP, 60)
    lm = honest_measures(LM, 8)
    assert all(m is not None and m <= PARAMS.epsilon_num / 20 for m in mlp)
    assert all(m is not None and m <= PARAMS.epsilon_kl / 10_000 for m in lm)
    assert any(m for m in mlp)  # the variants really do differ in the last bits


@pytest.mark.parametrize("workload", [MLP, LM], ids=lambda w: w.model_id)
@pytest.mark.parametrize("mode", LAZY_MODES)
def test_lazy_outputs_fail_the_comparison(workload: Workload, mode: str) -> None:
    for index in range(4):
        data = make_input(workload, index)
        seed = seed_from_job(b"lazy-%d" % index)
        lazy = lazy_output(workload, data, mode, seed)
        assert lazy != workload.run(data, seed)
        reference = workload.reference_output(data, seed, lazy)
        result = compare_outputs(workload.kind, lazy, reference, PARAMS)
        assert not result.match, (mode, index, result)
        if workload.kind is OutputKind.NUMERIC:
            assert result.measure is not None and result.measure > 100 * PARAMS.epsilon_num


def test_variants_listed() -> None:
    assert VARIANTS == ("reference", "batched", "float64")
    assert LAZY_MODES == ("random", "cached", "cheap")
