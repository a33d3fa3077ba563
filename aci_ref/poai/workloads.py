"""Real, tiny torch models that workers run and verifiers re-execute (DESIGN §5).

Nothing is downloaded: every model is defined here and its weights are generated from a seed
derived from its id. `h_model` is SHA-256 of the canonical weight bytes. Two workloads:

- `mlp-64-128-16`: an MLP returning 16 logits (numeric output, matched within ε_num);
- `charlm-d32-l2`: a character-level transformer LM that continues a 16-character prompt by 16
  characters, sampling with the seed pinned from the job (§3.4 item 1) and reporting each step's
  next-token distribution (matched by KL, §3.4 item 2).

Honest re-execution on "other hardware" is imitated by `threads` and `variant`: "batched" runs the
input inside a batch of other inputs, "float64" computes in double precision and casts back.
`lazy_output` produces what a lazy worker returns instead (random, cached from another input, or
from a cheaper model). Runs are under `torch.no_grad()` with one thread unless asked otherwise.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Final, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from aci_ref.crypto import sha256
from aci_ref.encoding import canonical_bytes
from aci_ref.errors import RejectedError, Rejection
from aci_ref.poai.matching import (
    OutputKind,
    decode_sampled,
    encode_numeric,
    encode_sampled,
    pinned_choice,
    seed_from_job,
    token_draw,
)
from aci_ref.poai.profiles import InputEncoding, InputRule, ModelProfile, check_input

__all__ = [
    "LAZY_MODES",
    "VARIANTS",
    "VOCAB",
    "CharLmWorkload",
    "MlpWorkload",
    "Workload",
    "canonical_weight_bytes",
    "get_workload",
    "lazy_output",
    "make_input",
    "seed_from_job",
    "workload_by_model_hash",
    "workload_ids",
]

VOCAB: Final = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."
"""ref: workloads (DESIGN §5) — the character LM's 64-symbol vocabulary; token id = index."""

VARIANTS: Final = ("reference", "batched", "float64")
"""ref: workloads (DESIGN §5) — ways an honest run may differ from the reference run."""

LAZY_MODES: Final = ("random", "cached", "cheap")
"""§6.1 item 1: the lazy worker's shortcuts — random output, a cached output, a cheaper model."""

WEIGHTS_DOMAIN: Final = "aci-ref/poai/weights"
INPUT_DOMAIN: Final = "aci-ref/poai/input"
LAZY_DOMAIN: Final = "aci-ref/poai/lazy"
_BATCH_FILL: Final = 7  # other inputs a "batched" run shares its batch with

Variant = Literal["reference", "batched", "float64"]
LazyMode = Literal["random", "cached", "cheap"]


def _seed(domain: str, **fields: object) -> int:
    """A 63-bit torch seed from a domain-tagged hash (torch seeds are at most 64 bits)."""
    return int.from_bytes(sha256(canonical_bytes({"domain": domain, **fields}))[:8]) >> 1


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> torch.Tensor:
    """Uniform values in (−bound, bound) from 24-bit integer draws, cast once to float32.

    Integer draws and one correctly rounded float64 computation give the same bits on every CPU
    (torch's vectorised normal sampler need not).
    """
    draws = torch.randint(0, 1 << 24, shape, generator=gen, dtype=torch.int64)
    return ((draws.double() - (1 << 23) + 0.5) * (bound / (1 << 23))).float()


def canonical_weight_bytes(module: nn.Module) -> bytes:
    """ref: h_model (DESIGN §5) — canonical bytes of a model's weights.

    A CBOR array, in sorted parameter-name order, of maps {"data": little-endian bytes, "dtype":
    "float32", "name", "shape"}; Definition 2's h_model is SHA-256 of these bytes.
    """
    state = module.state_dict()
    return canonical_bytes(
        [
            {
                "data": state[name].detach().contiguous().numpy().astype("<f4").tobytes(),
                "dtype": "float32",
                "name": name,
                "shape": list(state[name].shape),
            }
            for name in sorted(state)
        ]
    )


def _init_weights(module: nn.Module, model_id: str, head_gain: float = 1.0) -> None:
    """Fill every parameter, in sorted name order, from the model id's generator.

    Matrices: uniform with bound sqrt(3 / fan_in) (unit-variance outputs for unit inputs), times
    `head_gain` for the output head; vectors named weight (layer-norm gains): ones; biases:
    uniform with bound 0.1.
    """
    gen = _generator(_seed(WEIGHTS_DOMAIN, model=model_id))
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name in sorted(params):
            param = params[name]
            shape = tuple(param.shape)
            if param.ndim == 2:
                gain = head_gain if name.startswith("head.") else 1.0
                param.copy_(_uniform(shape, gain * math.sqrt(3.0 / shape[1]), gen))
            elif name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.copy_(_uniform(shape, 0.1, gen))


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    if threads < 1:
        raise RejectedError(Rejection.BAD_INPUT, f"threads must be at least 1, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(before)


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise RejectedError(Rejection.BAD_INPUT, f"unknown variant {variant!r}")


# ---- models ------------------------------------------------------------------------------------


class _Mlp(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.head = nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(functional.relu(self.fc1(x)))
        return out


class _Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 4 * d)
        self.ff2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, d = x.shape
        head_dim = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(batch, n, self.heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        future = torch.ones(n, n, dtype=torch.bool).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(batch, n, d)
        x = x + self.proj(mixed)
        out: torch.Tensor = x + self.ff2(functional.gelu(self.ff1(self.ln2(x))))
        return out


class _CharLm(nn.Module):
    def __init__(self, vocab: int, d: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(_Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        positions = torch.arange(ids.shape[1])
        x = self.tok(ids) + self.pos(positions)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        out: torch.Tensor = self.head(x[:, -1:, :] if last_only else x)
        return out


# ---- workloads ---------------------------------------------------------------------------------


class Workload:
    """ref: workloads (DESIGN §5) — a model jobs can name: id, output kind, resource class, runs.

    `run` is what a worker computes; `reference_output` is what a verifier compares a claimed
    output against (for sampled outputs it replays the claimed tokens, §3.4 item 2).
    """

    model_id: str
    kind: OutputKind
    resource_class: str
    module: nn.Module

    def __init__(self, model_id: str, kind: OutputKind, resource_class: str, module: nn.Module):
        self.model_id = model_id
        self.kind = kind
        self.resource_class = resource_class
        self.module = module.eval()
        self._double: nn.Module | None = None
        self.h_model = sha256(canonical_weight_bytes(self.module))

    def model(self, variant: str) -> nn.Module:
        """The module a variant runs: the float32 original or a float64 copy."""
        if variant != "float64":
            return self.module
        if self._double is None:
            self._double = copy.deepcopy(self.module).double().eval()
        return self._double

    def weight_bytes(self) -> int:
        """Bytes of the float32 weights (4 per parameter)."""
        return 4 * sum(p.numel() for p in self.module.parameters())

    def profile(self) -> ModelProfile:
        """ref: metrics consistency (errata E51) — FLOPs per input and weight bytes."""
        raise NotImplementedError

    def run(self, data: bytes, seed: int, *, threads: int = 1, variant: str = "reference") -> bytes:
        """The canonical output bytes of one honest run on `data` with the pinned `seed`."""
        raise NotImplementedError

    def reference_output(
        self,
        data: bytes,
        seed: int,
        claimed: bytes,
        *,
        threads: int = 1,
        variant: str = "reference",
    ) -> bytes:
        """A verifier's re-execution to compare `claimed` against (a plain run by default)."""
        return self.run(data, seed, threads=threads, variant=variant)

    def input_rule(self) -> InputRule:
        """ref: model inputs (errata E71) — the input shape this model runs (the chain's rule)."""
        raise NotImplementedError

    def check_input(self, data: bytes) -> None:
        """Refuse an input this model cannot run, by `input_rule` (the chain's own check)."""
        check_input(self.input_rule(), data, max_bytes=len(data))

    def make_input(self, index: int) -> bytes:
        """A deterministic valid input, the `index`-th of an endless sequence."""
        raise NotImplementedError

    def random_output(self, data: bytes, seed: int) -> bytes:
        """Output bytes of the right shape holding random values (a lazy worker's guess)."""
        raise NotImplementedError


class MlpWorkload(Workload):
    """ref: workloads (DESIGN §5) — an MLP d_in → d_hidden (ReLU) → d_out returning logits.

    Input: d_in float32 values, little-endian (all finite). Output: d_out float32 logits,
    little-endian (`aci_ref.poai.matching:encode_numeric`). Deterministic: the seed is unused.
    """

    def __init__(self, model_id: str, d_in: int, d_hidden: int, d_out: int, resource_class: str):
        module = _Mlp(d_in, d_hidden, d_out)
        _init_weights(module, model_id)
        self.d_in, self.d_hidden, self.d_out = d_in, d_hidden, d_out
        super().__init__(model_id, OutputKind.NUMERIC, resource_class, module)

    def profile(self) -> ModelProfile:
        """ref: metrics consistency (errata E51) — 2·(d_in·d_hidden + d_hidden·d_out) FLOPs."""
        flops = 2 * (self.d_in * self.d_hidden + self.d_hidden * self.d_out)
        return ModelProfile(flops, self.weight_bytes())

    def _decode(self, data: bytes) -> torch.Tensor:
        self.check_input(data)
        values = np.frombuffer(data, dtype="<f4").astype(np.float32)
        return torch.from_numpy(values.copy()).unsqueeze(0)

    def input_rule(self) -> InputRule:
        """ref: model inputs (errata E71) — d_in finite little-endian float32 values."""
        return InputRule(InputEncoding.FLOAT32_VECTOR, 4 * self.d_in)

    def run(self, data: bytes, seed: int, *, threads: int = 1, variant: str = "reference") -> bytes:
        """ref: workloads (DESIGN §5) — the logits of one input vector."""
        _check_variant(variant)
        x = self._decode(data)
        with _torch_threads(threads):
            if variant == "batched":
                gen = _generator(_seed(INPUT_DOMAIN, fill=data))
                fill = _uniform((_BATCH_FILL, self.d_in), 2.0, gen)
                logits = self.module(torch.cat([fill[:3], x, fill[3:]]))[3]
            elif variant == "float64":
                logits = self.model(variant)(x.double())[0].float()
            else:
                logits = self.module(x)[0]
        return encode_numeric(logits.numpy())

    def make_input(self, index: int) -> bytes:
        """ref: workloads (DESIGN §5) — d_in values uniform in (−2, 2), seeded by the index."""
        gen = _generator(_seed(INPUT_DOMAIN, index=index, model=self.model_id))
        return _uniform((self.d_in,), 2.0, gen).numpy().astype("<f4").tobytes()

    def random_output(self, data: bytes, seed: int) -> bytes:
        """§6.1 item 1: d_out random logits of the usual scale."""
        gen = _generator(_seed(LAZY_DOMAIN, input=data, seed=seed))
        return encode_numeric(_uniform((self.d_out,), 1.0, gen).numpy())


class CharLmWorkload(Workload):
    """ref: workloads (DESIGN §5) — a character transformer LM continuing a fixed-length prompt.

    Input: exactly `prompt_len` characters of `VOCAB`, ASCII. The run appends `gen_len` tokens;
    step t feeds the whole sequence so far (at most `context` tokens) through the model, takes the
    float32 softmax of the last position's logits as the step's distribution, and picks the token
    `pinned_choice(distribution, token_draw(seed, t))`. Output: `encode_sampled(tokens, dists)`.
    """

    def __init__(
        self,
        model_id: str,
        d: int,
        layers: int,
        heads: int,
        resource_class: str,
        context: int = 32,
        prompt_len: int = 16,
        gen_len: int = 16,
    ):
        if prompt_len + gen_len > context:
            raise RejectedError(Rejection.BAD_INPUT, "prompt and generation exceed the context")
        module = _CharLm(len(VOCAB), d, layers, heads, context)
        _init_weights(module, model_id, head_gain=3.0)
        self.d, self.layers, self.heads, self.context = d, layers, heads, context
        self.prompt_len, self.gen_len = prompt_len, gen_len
        super().__init__(model_id, OutputKind.SAMPLED, resource_class, module)

    def forward_flops(self, n: int) -> int:
        """FLOPs of one forward pass over n tokens with the head on the last position only."""
        d = self.d
        per_layer = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * 4 * d
        return self.layers * per_layer + 2 * d * len(VOCAB)

    def profile(self) -> ModelProfile:
        """ref: metrics consistency (errata E51) — the sum of forward FLOPs over the gen steps.

        Per layer over n tokens: QKV 2·n·d·3d, scores and mixing 2·2·n²·d, projection 2·n·d²,
        feed-forward 2·2·n·d·4d; plus the head 2·d·vocab once; n = prompt_len … prompt_len +
        gen_len − 1.
        """
        steps = range(self.prompt_len, self.prompt_len + self.gen_len)
        return ModelProfile(sum(self.forward_flops(n) for n in steps), self.weight_bytes())

    def _prompt(self, data: bytes) -> list[int]:
        self.check_input(data)
        return [VOCAB.index(ch) for ch in data.decode("ascii")]

    def input_rule(self) -> InputRule:
        """ref: model inputs (errata E71) — prompt_len ASCII characters of the vocabulary."""
        return InputRule(InputEncoding.TEXT, self.prompt_len, VOCAB)

    def _fillers(self, data: bytes) -> list[list[int]]:
        gen = _generator(_seed(INPUT_DOMAIN, fill=data))
        rows = torch.randint(0, len(VOCAB), (3, self.prompt_len), generator=gen)
        return [list(map(int, row)) for row in rows.tolist()]

    def _probs(self, logits: torch.Tensor) -> np.ndarray:
        """Softmax in the model's precision, then float32 (the distribution the worker reports)."""
        return torch.softmax(logits, dim=-1).float().numpy().astype(np.float32)

    def run(self, data: bytes, seed: int, *, threads: int = 1, variant: str = "reference") -> bytes:
        """ref: workloads (DESIGN §5) — generate gen_len tokens with the pinned seed."""
        _check_variant(variant)
        rows = [self._prompt(data)]
        if variant == "batched":
            rows += self._fillers(data)
        model = self.model(variant)
        tokens: list[int] = []
        dists: list[np.ndarray] = []
        with _torch_threads(threads):
            for step in range(self.gen_len):
                ids = torch.tensor([row[-self.context :] for row in rows], dtype=torch.long)
                probs = self._probs(model(ids, last_only=True)[:, -1, :])
                draw = token_draw(seed, step)
                for row, dist in zip(rows, probs, strict=True):
                    row.append(pinned_choice(dist, draw))
                tokens.append(rows[0][-1])
                dists.append(probs[0])
        return encode_sampled(tokens, np.stack(dists))

    def reference_output(
        self,
        data: bytes,
        seed: int,
        claimed: bytes,
        *,
        threads: int = 1,
        variant: str = "reference",
    ) -> bytes:
        """§3.4 item 2: the reference distributions along the claimed tokens (teacher forcing).

        One forward pass over prompt + claimed tokens[:-1] gives, at every step, the reference
        next-token distribution after the claimed prefix. The token recorded for the step is the
        one the pinned draw picks from the worker's claimed distribution (errata E93): an honest
        worker always picked it, while a draw that falls within rounding of a boundary of the
        reference's own distribution cannot make an honest worker's token look wrong; the
        distribution itself must then pass ND2's divergence test. A claimed output that does not
        decode to gen_len tokens of this vocabulary, or whose distributions cannot be drawn
        from, is compared with a plain run, or with the reference's own picks, instead.
        """
        _check_variant(variant)
        prompt = self._prompt(data)
        try:
            claim = decode_sampled(claimed)
        except RejectedError:
            return self.run(data, seed, threads=threads, variant=variant)
        if len(claim.tokens) != self.gen_len or claim.probs.shape[1] != len(VOCAB):
            return self.run(data, seed, threads=threads, variant=variant)
        rows = [prompt + list(claim.tokens[:-1])]
        if variant == "batched":
            rows += [fill + list(claim.tokens[:-1]) for fill in self._fillers(data)]
        with _torch_threads(threads):
            logits = self.model(variant)(torch.tensor(rows, dtype=torch.long))[0]
            probs = self._probs(logits[self.prompt_len - 1 :])
        try:
            tokens = [
                pinned_choice(claim.probs[t], token_draw(seed, t)) for t in range(self.gen_len)
            ]
        except RejectedError:
            tokens = [pinned_choice(probs[t], token_draw(seed, t)) for t in range(self.gen_len)]
        return encode_sampled(tokens, probs)

    def make_input(self, index: int) -> bytes:
        """ref: workloads (DESIGN §5) — prompt_len vocabulary characters, seeded by the index."""
        gen = _generator(_seed(INPUT_DOMAIN, index=index, model=self.model_id))
        ids = torch.randint(0, len(VOCAB), (self.prompt_len,), generator=gen).tolist()
        return "".join(VOCAB[i] for i in ids).encode("ascii")

    def random_output(self, data: bytes, seed: int) -> bytes:
        """§6.1 item 1: random tokens with random distributions of the right shape."""
        gen = _generator(_seed(LAZY_DOMAIN, input=data, seed=seed))
        tokens = torch.randint(0, len(VOCAB), (self.gen_len,), generator=gen).tolist()
        weights = _uniform((self.gen_len, len(VOCAB)), 1.0, gen).abs() + 1e-3
        return encode_sampled(tokens, (weights / weights.sum(dim=1, keepdim=True)).numpy())


# ---- registry ----------------------------------------------------------------------------------

_REGISTRY: Final = ("mlp-64-128-16", "charlm-d32-l2")


def workload_ids() -> tuple[str, ...]:
    """ref: workloads (DESIGN §5) — the ids of every registered workload, sorted."""
    return tuple(sorted(_REGISTRY))


@cache
def _build(model_id: str) -> Workload:
    if model_id == "mlp-64-128-16":
        return MlpWorkload(model_id, 64, 128, 16, "cpu-small")
    if model_id == "mlp-64-128-16/cheap":
        return MlpWorkload(model_id, 64, 8, 16, "cpu-small")
    if model_id == "charlm-d32-l2":
        return CharLmWorkload(model_id, d=32, layers=2, heads=2, resource_class="cpu-small")
    if model_id == "charlm-d32-l2/cheap":
        return CharLmWorkload(model_id, d=16, layers=1, heads=2, resource_class="cpu-small")
    raise RejectedError(Rejection.UNKNOWN_MODEL, model_id)


def get_workload(model_id: str) -> Workload:
    """ref: workloads (DESIGN §5) — a registered workload by id, else `unknown_model`."""
    if model_id not in _REGISTRY:
        raise RejectedError(Rejection.UNKNOWN_MODEL, model_id)
    return _build(model_id)


def workload_by_model_hash(h_model: bytes) -> Workload:
    """ref: workloads (DESIGN §5) — the registered workload whose weights hash to `h_model`."""
    for model_id in workload_ids():
        workload = get_workload(model_id)
        if workload.h_model == h_model:
            return workload
    raise RejectedError(Rejection.UNKNOWN_MODEL, h_model.hex()[:16])


def make_input(workload: Workload, index: int) -> bytes:
    """ref: workloads (DESIGN §5) — the `index`-th deterministic input of a workload."""
    if index < 0:
        raise RejectedError(Rejection.BAD_INPUT, "input index must be non-negative")
    return workload.make_input(index)


def lazy_output(workload: Workload, data: bytes, mode: str, seed: int) -> bytes:
    """§6.1 item 1: what a lazy worker returns for `data` instead of running `workload`.

    "random": random values of the right shape; "cached": the honest output of another input
    (with another seed), as if replayed from a cache; "cheap": the output of a smaller model of
    the same family (`<id>/cheap`), run with the job's pinned seed.
    """
    if mode == "random":
        return workload.random_output(data, seed)
    if mode == "cached":
        other = next(
            candidate for index in range(3) if (candidate := make_input(workload, index)) != data
        )
        return workload.run(other, (seed + 1) % (1 << 64))
    if mode == "cheap":
        return _build(f"{workload.model_id}/cheap").run(data, seed)
    raise RejectedError(Rejection.BAD_INPUT, f"unknown lazy mode {mode!r}")
