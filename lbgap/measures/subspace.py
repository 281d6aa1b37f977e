"""The n × p matrices A of the subspace sharpness metric, as operators: A y, Aᵀ g and A⁺ x.

For the paper's deep networks n ≈ 15 M and p = 100, so A alone is 6 GB in float32 and a dense
pseudo-inverse in float64 twice that. `RandomSubspace` never builds A whole: it is cut into row blocks,
and block b is drawn from its own generator seeded by (seed, b), so any block can be regenerated on
demand and A y, Aᵀ g are computed block by block (peak extra memory: one block, `block_entries`
floats). Blocks are kept in memory only when all of A fits in `cache_bytes` (the small default network);
the numbers are identical either way.

A⁺ x uses the normal equations, A⁺ x = (AᵀA)⁻¹ Aᵀ x, with AᵀA (p × p) and Aᵀx accumulated in float64
over the blocks. For a Gaussian A with n ≫ p, AᵀA ≈ n I is very well conditioned (condition number
≈ ((1 + √(p/n)) / (1 − √(p/n)))²), so this loses nothing against a QR-based least-squares solve.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class Subspace(Protocol):
    n: int
    p: int

    def matvec(self, y: torch.Tensor) -> torch.Tensor: ...  # A y: (p,) → (n,)

    def rmatvec(self, g: torch.Tensor) -> torch.Tensor: ...  # Aᵀ g: (n,) → (p,)

    def pinv_apply(self, x: torch.Tensor) -> torch.Tensor: ...  # A⁺ x: (n,) → (p,) float64


class DenseSubspace:
    """An explicit A (n, p), e.g. the identity in tests; A⁺x by least squares."""

    def __init__(self, A: torch.Tensor):
        self.A = A
        self.n, self.p = A.shape

    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        return self.A.to(y.dtype) @ y

    def rmatvec(self, g: torch.Tensor) -> torch.Tensor:
        return self.A.T.to(g.dtype) @ g

    def pinv_apply(self, x: torch.Tensor) -> torch.Tensor:
        A = self.A.double().cpu()
        return torch.linalg.lstsq(A, x.double().cpu().unsqueeze(1)).solution.squeeze(1)


class RandomSubspace:
    """A ∈ R^{n×p} with i.i.d. N(0, 1) float32 entries, reproducible from `seed` (and the device type:
    CPU and CUDA generators draw different numbers), generated block by block on `device`."""

    def __init__(
        self,
        n: int,
        p: int,
        seed: int,
        *,
        device: torch.device | str = "cpu",
        block_entries: int = 1 << 22,
        cache_bytes: int = 1 << 28,
    ):
        self.n, self.p, self.seed = n, p, seed
        self.device = torch.device(device)
        self.rows = max(1, block_entries // p)
        self.starts = range(0, n, self.rows)
        self._cache: list[torch.Tensor] | None = [] if 4 * n * p <= cache_bytes else None

    def block(self, index: int) -> torch.Tensor:
        """Rows [index·rows, (index+1)·rows) of A, float32 on `device`."""
        if self._cache is not None and index < len(self._cache):
            return self._cache[index]
        start = self.starts[index]
        rows = min(self.rows, self.n - start)
        block_seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1, np.uint64)[0] >> 1)
        generator = torch.Generator(device=self.device).manual_seed(block_seed)
        block = torch.randn(rows, self.p, generator=generator, device=self.device)
        if self._cache is not None and index == len(self._cache):
            self._cache.append(block)
        return block

    def blocks(self):
        for index, start in enumerate(self.starts):
            yield start, self.block(index)

    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        y = y.to(self.device, torch.float32)
        return torch.cat([block @ y for _, block in self.blocks()])

    def rmatvec(self, g: torch.Tensor) -> torch.Tensor:
        g = g.to(self.device, torch.float32)
        out = torch.zeros(self.p, device=self.device)
        for start, block in self.blocks():
            out += block.T @ g[start : start + len(block)]
        return out

    def pinv_apply(self, x: torch.Tensor) -> torch.Tensor:
        gram = torch.zeros(self.p, self.p, dtype=torch.float64, device=self.device)
        projected = torch.zeros(self.p, dtype=torch.float64, device=self.device)
        x = x.to(self.device, torch.float64)
        for start, block in self.blocks():
            block = block.double()
            gram += block.T @ block
            projected += block.T @ x[start : start + len(block)]
        return torch.linalg.solve(gram, projected).cpu()

    def dense(self) -> torch.Tensor:
        """A as one (n, p) tensor — for tests and small n only."""
        return torch.cat([block for _, block in self.blocks()])


def random_subspace(n: int, p: int, seed: int, device: torch.device | str = "cpu") -> RandomSubspace:
    """A ∈ R^{n×p} with i.i.d. N(0, 1) entries as an operator, drawn on `device` (the data's, where the
    callers pass it): reproducible from `seed` on one device type, different between CPU and CUDA."""
    return RandomSubspace(n, p, seed, device=device)
