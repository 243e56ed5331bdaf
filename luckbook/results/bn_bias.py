"""E7's result and its analysis: the signs of BatchNorm biases and the overlap of activation
regions, per architecture (see :mod:`luckbook.experiments.bn_bias`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..claims import Stat, glue, seed_mean
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.bn_bias import BNBiasSettings  # noqa: F401 (the quoted Result[...])


@dataclasses.dataclass
class ArchRecord:
    """What E7 measures on one architecture (``T`` snapshots, ``S`` seeds, ``L`` BN layers).

    Attributes:
        names, channels, relu: per BatchNorm layer, its name, width and whether a ReLU follows.
        frac_negative: ``[T, S, L]`` fraction of negative biases after each epoch
            (T = epochs + 1).
        bias, gamma: per layer, the final biases and weights ``[S, C]``.
        p_active, p_active0: per ReLU-followed layer, the units' activation probability on the
            test split, trained and at step 0, ``[S, C]``.
        coact, coact0: ``[S, L_relu]`` mean pairwise co-activation, trained and at step 0.
        test_acc: ``[T, S]`` test accuracy after each epoch.
    """

    names: list[str]
    channels: list[int]
    relu: list[bool]
    frac_negative: np.ndarray
    bias: list[np.ndarray]
    gamma: list[np.ndarray]
    p_active: list[np.ndarray]
    p_active0: list[np.ndarray]
    coact: np.ndarray
    coact0: np.ndarray
    test_acc: np.ndarray

    def pooled_negative(self, t: int = -1) -> np.ndarray:
        """``[S]`` fraction of negative biases pooled over the ReLU-followed layers (weighted
        by their channels) at snapshot ``t``."""
        w = np.array([c if r else 0 for c, r in zip(self.channels, self.relu, strict=True)], float)
        return (self.frac_negative[t] * w).sum(-1) / w.sum()

    def mean_coact(self, control: bool = False) -> np.ndarray:
        """``[S]`` co-activation averaged over the ReLU-followed layers (trained or step 0)."""
        return (self.coact0 if control else self.coact).mean(-1)

    def thresholds(self, layer: int) -> np.ndarray:
        """``[S, C]`` the trained ``β/|γ|`` of BatchNorm layer ``layer`` (the firing threshold
        in units of the normalised input, sign flipped)."""
        return self.bias[layer] / np.maximum(np.abs(self.gamma[layer]), 1e-12)


@dataclasses.dataclass
class BNBiasResult(Result["BNBiasSettings"]):
    """E7's result: one :class:`ArchRecord` per architecture (``"cnn"``, ``"mlp"``).

    Attributes:
        epochs: ``[T]`` snapshot epochs ``0 … epochs``.
        archs: ``{"cnn": ArchRecord, "mlp": ArchRecord}`` (in that order).
    """

    EXPERIMENT: ClassVar[str] = "bn-bias"
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {
        "frozen": "the same networks at their initial weights (step 0; BatchNorm biases 0)",
    }

    epochs: np.ndarray
    archs: dict[str, ArchRecord]

    def reference(self, kind: str) -> BNBiasResult:
        """The run E7's paired statistics compare this one with: the same settings and seeds
        with ``kind`` = ``"shuffled-labels"`` (labels permuted; a run that is itself shuffled
        is compared with an independent permutation, ``shuffle_stream + 1``) or
        ``"frozen-bias"`` (every BatchNorm bias fixed at 0; a frozen-bias run is its own
        reference). Cached like any run."""
        from ..experiments.base import get_experiment

        s = self.settings
        if kind == "shuffled-labels":
            again = s.control == "shuffled-labels"
            ref = dataclasses.replace(
                s, control="shuffled-labels", shuffle_stream=s.shuffle_stream + int(again)
            )
        elif kind == "frozen-bias":
            ref = dataclasses.replace(s, freeze_bias=True)
        else:
            raise ValueError(
                f"kind={kind!r} is not allowed: expected 'shuffled-labels' or 'frozen-bias'"
            )
        if ref == s:
            return self
        exp = get_experiment(self.EXPERIMENT)
        return exp.run_settings(ref, seeds=self.seeds, device=self.device)

    def coact_change(self, arch: str) -> np.ndarray:
        """``[S]`` change of the mean co-activation from step 0 to the end of training."""
        rec = self.archs[arch]
        return rec.mean_coact() - rec.mean_coact(control=True)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """E7's paired statistics, per architecture (``control="frozen"``: at step 0, where
        every bias is 0 and nothing has moved, so both differences are 0).

        ``E7.<arch>-learned-negative``: fraction of negative biases (pooled over the
        ReLU-followed BatchNorm layers) after training on the digit labels minus the same
        after training on permuted labels, paired by seed (same initial network and
        minibatch order); mean over seeds. ``E7.<arch>-bias-overlap``: change of the mean
        co-activation (trained − step 0) minus the same change with every BatchNorm bias fixed
        at 0, paired by seed; mean over seeds.
        """
        frozen = control == "frozen"
        shuffled = self.reference("shuffled-labels")
        fixed = self.reference("frozen-bias")
        t = 0 if frozen else -1
        out = {}
        for arch, rec in self.archs.items():
            neg, neg_ref = rec.pooled_negative(t), shuffled.archs[arch].pooled_negative(t)
            out[f"E7.{arch}-learned-negative"] = seed_mean(
                neg - neg_ref,
                detail=f"negative fraction {neg.mean():.2f} here (test accuracy "
                f"{rec.test_acc[t].mean():.2f}), {neg_ref.mean():.2f} with permuted labels "
                f"(test accuracy {shuffled.archs[arch].test_acc[t].mean():.2f})",
            )
            here, ref = self.coact_change(arch), fixed.coact_change(arch)
            if frozen:
                here, ref = np.zeros_like(here), np.zeros_like(ref)
            out[f"E7.{arch}-bias-overlap"] = seed_mean(
                here - ref,
                detail=f"co-activation change {here.mean():+.4f} here, {ref.mean():+.4f} with "
                f"biases fixed at 0 (co-activation at step 0 {rec.mean_coact(True).mean():.3f})",
            )
        return out

    def summary(self) -> str:
        s = self.settings
        lines = [
            f"bn-bias (E7): CNN channels {list(s.channels)}, MLP hidden {list(s.hidden)}, "
            f"{s.epochs} epochs, weight decay {s.weight_decay:g}",
            self.made(),
        ]
        for arch, rec in self.archs.items():
            frac = rec.frac_negative[-1].mean(0)
            lines.append(
                f"{arch}: test accuracy {rec.test_acc[-1].mean():.3f}; negative biases per BN "
                "layer "
                + " ".join(f"{v:.2f}" for v in frac)
                + f"; pooled (ReLU layers) {rec.pooled_negative().mean():.2f}; co-activation "
                f"{rec.mean_coact(True).mean():.3f} at step 0 -> {rec.mean_coact().mean():.3f}"
            )
        return "\n".join(lines)

    def glue_numbers(self) -> dict[str, float]:
        """Glue (and return) the numbers the Real-data chapter quotes beside the claims, each a
        mean over seeds: ``E7.<arch>.acc`` (final test accuracy), ``E7.<arch>.coact0`` /
        ``.coact`` (co-activation at step 0 / trained), ``E7.<arch>.layer<l>`` (fraction of
        negative biases of BatchNorm layer ``l``), ``E7.<arch>.negative`` (pooled over the
        ReLU-followed layers) and ``E7.<arch>.dco`` (co-activation change from step 0); the
        same ``negative``/``acc``/``dco`` for the reference runs, prefixed ``shuffled.``
        (permuted labels), ``frozen-bias.`` and ``shuffled-frozen-bias.``."""
        out: dict[str, float] = {}
        shuffled = self.reference("shuffled-labels")
        runs = {
            "": self,
            "shuffled.": shuffled,
            "frozen-bias.": self.reference("frozen-bias"),
            "shuffled-frozen-bias.": shuffled.reference("frozen-bias"),
        }
        for arch, rec in self.archs.items():
            out[f"E7.{arch}.coact0"] = float(rec.mean_coact(control=True).mean())
            out[f"E7.{arch}.coact"] = float(rec.mean_coact().mean())
            for l, frac in enumerate(rec.frac_negative[-1].mean(0)):
                out[f"E7.{arch}.layer{l}"] = float(frac)
            for prefix, run in runs.items():
                r = run.archs[arch]
                out[f"E7.{arch}.{prefix}acc"] = float(r.test_acc[-1].mean())
                out[f"E7.{arch}.{prefix}negative"] = float(r.pooled_negative().mean())
                out[f"E7.{arch}.{prefix}dco"] = float(run.coact_change(arch).mean())
        for key, value in out.items():
            glue(key, value)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            **self.json_header(),
            "archs": {
                arch: {
                    "layers": rec.names,
                    "channels": rec.channels,
                    "followed_by_relu": rec.relu,
                    "seeds": [
                        {
                            "seed": seed,
                            "frac_negative": rec.frac_negative[-1, s].tolist(),
                            "frac_negative_history": rec.frac_negative[:, s].tolist(),
                            "pooled_negative": float(rec.pooled_negative()[s]),
                            "coactivation": rec.coact[s].tolist(),
                            "coactivation_step0": rec.coact0[s].tolist(),
                            "test_accuracy": float(rec.test_acc[-1, s]),
                        }
                        for s, seed in enumerate(self.seeds)
                    ],
                }
                for arch, rec in self.archs.items()
            },
        }
