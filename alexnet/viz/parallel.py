"""Chapter 7's figure: what crosses between GPUs per step, model against data parallelism."""
from __future__ import annotations

from ..summary import crossover_batch, data_parallel_bytes, model_parallel_bytes
from .architecture import GPU_COLOURS
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["plot_traffic"]


@styled
def plot_traffic(batches, per_image: int, parameters: int, highlight: int | None = None,
                 gpus: int = 2, bytes_per_value: int = 4, ax=None):
    """Megabytes sent between the GPUs per training step, all GPUs together, against the batch
    size: the paper's split (:func:`~alexnet.summary.model_parallel_bytes`, ``per_image`` bytes
    of activations per image, as many of gradients) and data parallelism
    (:func:`~alexnet.summary.data_parallel_bytes`, whatever the batch). A dotted line marks the
    crossover; ``highlight`` marks one batch size and gives both values there."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.4)
    batches = list(batches)
    model = [model_parallel_bytes(per_image, b) / 1e6 for b in batches]
    data = data_parallel_bytes(parameters, gpus, bytes_per_value) / 1e6
    ax.plot(batches, model, "o-", color=GPU_COLOURS[0], label="model parallel (§3.2's towers)")
    ax.plot(batches, [data] * len(batches), "s-", color=GPU_COLOURS[1],
            label=f"data parallel, {gpus} GPUs (all-reduce)")
    crossover = crossover_batch(per_image, parameters, gpus, bytes_per_value)
    ax.axvline(crossover, color="black", lw=0.8, ls=":")
    ax.text(crossover, 0.04, f" equal at {crossover:,.0f}", va="bottom",
            transform=ax.get_xaxis_transform())
    if highlight is not None:
        split = model_parallel_bytes(per_image, highlight) / 1e6
        ax.axvline(highlight, color="grey", lw=0.8, ls="--")
        ax.set_title(f"batch {highlight}: {split:,.0f} MB (model parallel) "
                     f"vs {data:,.0f} MB (data parallel)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    ax.set(xlabel="images per training step", ylabel="MB between GPUs per step")
    ax.legend(loc="upper left")
    return ax
