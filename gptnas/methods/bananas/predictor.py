"""BANANAS' predictor: an ensemble of small fully connected networks, each from its own initialisation, trained on
the architectures evaluated so far; the spread of their predictions is the uncertainty the acquisition samples.

The members are trained together as one batch of weight tensors ``(members, in, out)``: full-batch Adam on the
sum of the members' MSE losses is, member by member, exactly independent training (Adam is elementwise and no
gradient crosses members), at a fifth of the Python overhead. Each member's initial weights come from a
``torch.Generator`` of its own seed, so a fit is a pure function of ``(x, y, seed)`` and never touches torch's
global generator. CPU only: the nets are 3 × 20 units and the data at most a few thousand rows.
"""
from __future__ import annotations

import math

import numpy as np


class Ensemble:
    """``members`` MLPs of ``layers`` hidden layers × ``width`` ReLU units on standardised fitness (MSE).

    Args: members (5), layers (3), width (20), epochs: full-batch Adam steps (200), lr: Adam's step size (0.01),
    weight_decay: L2 on the weights (1e-4; a little keeps 10-point fits from spiking between the points).
    """

    def __init__(self, members: int = 5, layers: int = 3, width: int = 20, epochs: int = 200, lr: float = 0.01,
                 weight_decay: float = 1e-4):
        self.members, self.layers, self.width = members, layers, width
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.params: list = []

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int) -> "Ensemble":
        """Train on ``x`` ``(n, features)`` float and ``y`` ``(n,)`` fitness; deterministic for a ``seed``."""
        import torch

        y = np.asarray(y, dtype=np.float64)
        self.mu, self.sd = float(y.mean()), float(y.std()) or 1.0  # standardised targets: one lr for any scale
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        yt = torch.as_tensor((y - self.mu) / self.sd, dtype=torch.float32)
        dims = [xt.shape[1]] + [self.width] * self.layers + [1]
        self.params = []
        gens = [torch.Generator().manual_seed((int(seed) + 7919 * m) % 2 ** 63) for m in range(self.members)]
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a) if a else 1.0  # nn.Linear's default initialisation, per member
            w = torch.stack([(torch.rand(a, b, generator=g) * 2 - 1) * bound for g in gens]).requires_grad_()
            bias = torch.stack([(torch.rand(1, b, generator=g) * 2 - 1) * bound for g in gens]).requires_grad_()
            self.params += [w, bias]
        opt = torch.optim.Adam(self.params, lr=self.lr)
        xb = xt.unsqueeze(0).expand(self.members, -1, -1)
        target = yt.unsqueeze(0).expand(self.members, -1)
        with torch.enable_grad():
            for _ in range(self.epochs):
                opt.zero_grad()
                err = self._forward(xb).squeeze(-1) - target
                loss = (err ** 2).mean(dim=1).sum()  # each member's MSE; summed, their gradients stay apart
                if self.weight_decay:
                    loss = loss + self.weight_decay * sum((w ** 2).sum() for w in self.params[::2])
                loss.backward()
                opt.step()
        self.params = [p.detach() for p in self.params]
        return self

    def _forward(self, xb):
        import torch
        h = xb
        n = len(self.params) // 2
        for i in range(n):
            h = torch.baddbmm(self.params[2 * i + 1], h, self.params[2 * i])
            if i < n - 1:
                h = torch.relu(h)
        return h

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(members, n)`` predicted fitness of ``x`` ``(n, features)``, one row per member, in fitness units."""
        import torch
        if not self.params:
            raise RuntimeError("Ensemble.predict before fit")
        with torch.no_grad():
            xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
            out = self._forward(xt.unsqueeze(0).expand(self.members, -1, -1)).squeeze(-1)
            return out.numpy().astype(np.float64) * self.sd + self.mu


def thompson(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Independent Thompson sampling (BANANAS' ITS): one draw per candidate from N(mean, std) of the ensemble's
    ``pred`` ``(members, n)``; std with ddof=1 as NASLib (0 for a single member: the mean, greedy)."""
    mean = pred.mean(axis=0)
    std = pred.std(axis=0, ddof=1) if pred.shape[0] > 1 else np.zeros_like(mean)
    return rng.normal(mean, std)
