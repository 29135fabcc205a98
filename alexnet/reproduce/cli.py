"""``alexnet reproduce``: the command line of the experiments (registered by :mod:`alexnet.cli`)."""
from __future__ import annotations

import shlex
from pathlib import Path

from ..errors import AlexNetError
from ..files import check_destination, replacing
from ..runtime import positive_int
from .claims import CLAIMS, ORDER
from .experiment import GPU_GROUPS, context_for, estimate_table, plan_estimate, run_all, run_group
from .pilot import pilot
from .reference import run_reference
from .results import DEFAULT_OUT, finalise, result_path
from .settings import SCALES

__all__ = ["add_arguments", "run", "DEFAULT_OUT"]



def add_arguments(parser) -> None:
    """The ``reproduce`` subcommand's arguments."""
    parser.add_argument("claim", nargs="+",
                        choices=[*CLAIMS, "all", "reference", "plan", "ledger"],
                        help="claims of the paper (runs they share train once), all of them, "
                             "the reference run, plan (the pilot, then the plan of seeds, "
                             "printed before the long runs), or ledger (only redo verdicts and "
                             "LEDGER.md)")
    parser.add_argument("--scale", choices=list(SCALES), default="cpu",
                        help="cpu: hours on two CPU cores; gpu: all of CIFAR-10 on a CUDA GPU; "
                             "test: seconds, for the test suite")
    parser.add_argument("--seeds", type=positive_int,
                        help="seeds per comparison (default: chosen by the pilot's spread)")
    parser.add_argument("--group", type=int, choices=sorted(GPU_GROUPS),
                        help="with `all`: only this group of claims (each fits one GPU call)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"folder for the result files and LEDGER.md (default {DEFAULT_OUT}; "
                             "the package's own alexnet/results is written only when named here, "
                             "with --force)")
    parser.add_argument("--force", action="store_true",
                        help="replace files in --out that alexnet did not write there (or that "
                             "changed since), and write the package's shipped results")
    parser.add_argument("--device", help="default: cpu for --scale cpu/test, cuda for gpu")
    parser.add_argument("--dry-run", action="store_true",
                        help="with `plan`: train nothing; time a few batches of every arm and "
                             "print what the pilot and the least plan would cost at the epoch caps")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="train this many runs side by side, one thread each, before the "
                             "claims read them (default 1; on a CPU, its number of cores)")
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def command_line(args) -> str:
    """The command that made a result (what its provenance records)."""
    words = ["python", "-m", "alexnet", "reproduce", *args.claim, "--scale", args.scale]
    for flag, value in (("--seeds", args.seeds), ("--group", args.group),
                        ("--device", args.device), ("--jobs", getattr(args, "jobs", 1) > 1
                                                    and args.jobs)):
        words += [flag, str(value)] if value else []
    return shlex.join(words + ["--out", str(args.out)])


def run(args) -> int:
    """Run what ``args.claim`` names; 0 on success. ``--force`` lets the writes replace files
    alexnet did not make (:func:`alexnet.files.replacing`)."""
    with replacing(getattr(args, "force", False)):
        return _run(args)


def check_outputs(names: list[str], args) -> None:
    """Before any run: one line if a file the command will write cannot be written or would
    replace a file alexnet did not make (its result files, the pilot's plan, LEDGER.md)."""
    claims = [n for n in names if n in CLAIMS] if "all" not in names else list(CLAIMS)
    files = [(result_path(args.out, n, args.scale), "json") for n in claims] + \
        [(result_path(args.out, "reference", args.scale), "json")] * ("reference" in names) + \
        [(result_path(args.out, "pilot", args.scale), "json")] * bool(claims or "plan" in names) + \
        [(Path(args.out) / "LEDGER.md", "ledger")] * bool(claims)
    for path, kind in files:
        check_destination(path, kind)


def _run(args) -> int:
    names = list(dict.fromkeys(args.claim))
    if "ledger" in names:
        if len(names) > 1:
            raise AlexNetError("ledger only redoes the verdicts and LEDGER.md: run it on its own")
        print(finalise(args.out, args.scale))
        return 0
    check_outputs(names, args)
    if "plan" in names:
        if len(names) > 1 or args.seeds:
            raise AlexNetError("plan runs the pilot and prints the plan: run it on its own, "
                               "without --seeds")
        context = context_for(args.scale, args.device, None, args.out, args.progress,
                              command_line(args), args.jobs)
        if args.dry_run:
            print(estimate_table(plan_estimate(context)), flush=True)
            return 0
        pilot(context)                     # prints the plan, writes pilot-<scale>.json
        print(f"plan -> {result_path(args.out, 'pilot', args.scale)}", flush=True)
        return 0
    if args.dry_run:
        raise AlexNetError("--dry-run estimates the plan: use it with `plan` only")
    if args.group and names != ["all"]:
        raise AlexNetError("--group picks claims itself: use it with `all` only")
    if args.group and args.scale != "gpu":
        raise AlexNetError("--group splits --scale gpu into parts that each fit one GPU call: "
                           "drop --group, or use --scale gpu")
    options = dict(out=args.out, progress=args.progress, device=args.device,
                   command=command_line(args))
    if "reference" in names:
        names.remove("reference")
        result = run_reference(args.scale, **options)
        for name, entry in result["networks"].items():
            print(f"reference {name}: test error {entry['test_error']:.2%} -> "
                  f"{result_path(args.out, 'reference', args.scale)}", flush=True)
    if not names:
        return 0
    if args.group:
        results = run_group(args.group, args.scale, **options)
    else:
        chosen = ORDER if "all" in names else [n for n in ORDER if n in names]
        results = run_all(args.scale, seeds=args.seeds, names=chosen, jobs=args.jobs, **options)
    for name, result in results.items():
        first = next(t for t in result["tests"] if t.get("primary"))
        print(f"{name}: {first.get('direction', '?')} -> "
              f"{result_path(args.out, name, args.scale)}", flush=True)
    return 0
