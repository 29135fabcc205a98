"""alexnet.reproduce.experiment: the GPU groups' time estimate, measured through Trainer.fit (on a
stand-in: the CPU, with CUDA's synchronisation patched out)."""
import torch

from alexnet import train
from alexnet.reproduce import experiment
from alexnet.reproduce.settings import SCALES


def test_the_gpu_estimate_times_steps_of_trainer_fit(monkeypatch):
    fitted = []
    real_fit = train.Trainer.fit

    def fit(self, loader, *args, **kwargs):
        fitted.append((self.config, len(list(loader))))
        return real_fit(self, loader, *args, **kwargs)

    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(train.Trainer, "fit", fit)
    context = experiment.context_for("test", "cpu", out=None)
    seconds = experiment.gpu_estimate(1, context)
    assert seconds > 0
    assert [(c.epochs, c.schedule, c.reseed, steps) for c, steps in fitted] == \
        [(1, "step", False, 25)] * 2
    scale = SCALES["test"]
    assert [c.batch_size for c, _ in fitted] == [scale.regime(r).batch_size for r in ("lrn", "recipe")]
