r"""The paper's claims, checked one by one: experiments, statistics, results and the ledger.

::

    python -m alexnet reproduce reference --scale cpu   # the family working, on all of CIFAR-10
    python -m alexnet reproduce plan --scale cpu        # the pilot, then the plan, printed
    python -m alexnet reproduce all --scale cpu         # every claim: pilot, runs, verdicts
    python -m alexnet reproduce relu lrn --scale cpu    # some of them
    python -m alexnet reproduce all --scale gpu --group 1   # a part that fits one GPU call
    python -m alexnet reproduce ledger                  # verdicts and LEDGER.md from the files

One module per job, each readable top to bottom:

==============================  ===========================================================
:mod:`~.settings`               regimes, arms, the primary tests declared, per scale
:mod:`~.data`                   the CIFAR-10 subsets and loaders the experiments read
:mod:`~.runs`                   one arm, one seed: training, cached on disk (resumable)
:mod:`~.stats`                  paired differences, intervals at α/9, power, two-part verdicts
:mod:`~.plan`                   seeds per claim from the pilot's spreads, within the budget
:mod:`~.measures`               Figure 1's search, Figures 3 and 4, ten patches
:mod:`~.pilot`                  the context claims run in; the pilot that makes the plan
:mod:`~.claims`                 the nine claims as experiments
:mod:`~.experiment`             running claims with provenance; GPU groups
:mod:`~.reference`              the reference run
:mod:`~.results`                result files, verdicts in words, the ledger
:mod:`~.cli`                    ``alexnet reproduce``
==============================  ===========================================================

What a chapter calls: :func:`load` (a shipped result), :func:`describe` and :func:`words`
(a test in a sentence), :func:`ledger_rows` / :func:`ledger_html` (the ledger),
:func:`run_claim` (a claim rerun here, e.g. at GPU scale), :func:`train_arm` and
:func:`figure1_run` (a small live run, with :func:`with_overrides` to shrink a regime).
"""
from .claims import ARMS, CLAIMS, ORDER, PRIMARY, Context
from .cli import add_arguments, run
from .experiment import GPU_GROUPS, context_for, run_all, run_claim, run_group
from .reference import REFERENCE_ARMS, run_reference
from .results import (RESULTS, describe, estimate_text, finalise, ledger_html, ledger_markdown,
                      ledger_rows, load, words)
from .runs import build, epochs_to, figure1_run, train_arm, without_conv
from .pilot import pilot
from .plan import make_plan, plan_table
from .settings import INIT, SCALES, Arm, Regime, Scale, with_overrides

__all__ = ["ARMS", "CLAIMS", "ORDER", "PRIMARY", "Context", "pilot", "make_plan", "plan_table", "add_arguments", "run", "GPU_GROUPS", "context_for", "run_all",
           "run_claim", "run_group", "REFERENCE_ARMS", "run_reference", "RESULTS", "describe",
           "estimate_text", "finalise", "ledger_html", "ledger_markdown", "ledger_rows", "load",
           "words", "build", "epochs_to", "figure1_run", "train_arm", "without_conv", "INIT", "SCALES",
           "Arm", "Regime", "Scale", "with_overrides"]
