"""The claims' statistics (alexnet.reproduce.stats), the plan (plan) and the verdicts in words
(results), on hand-checkable numbers: t and binomial quantiles against tables or SciPy, Holm and
Bonferroni on known p-values, verdicts that agree with the interval printed beside them,
censored and not-testable cases, and a plan that moves claims out when the budget is short."""
import math
from types import SimpleNamespace

import pytest

from alexnet import reproduce
from alexnet.reproduce import stats
from alexnet.reproduce.claims import count_test, primary, test as make_test
from alexnet.reproduce.plan import make_plan, planned_sd, plan_table
from alexnet.reproduce.results import estimate_text, verdict, words

ALPHA9 = 0.05 / 9


# ---------------------------------------------------------------- quantiles

@pytest.mark.parametrize("df,expected", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262),
                                         (30, 2.042)])
def test_t_quantiles_match_the_table(df, expected):
    assert stats.t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("df", [2, 4, 5, 9, 30])
@pytest.mark.parametrize("p", [0.80, 0.975, 1 - ALPHA9 / 2])
def test_t_quantiles_match_scipy_at_the_deciding_level(df, p):
    scipy_stats = pytest.importorskip("scipy.stats")
    assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-4)


def test_small_p_values_keep_their_digits():
    scipy_stats = pytest.importorskip("scipy.stats")
    for x, df in ((8.0, 5), (60.0, 2), (3.0, 4)):
        assert 1 - stats.t_cdf(x, df) == pytest.approx(scipy_stats.t.sf(x, df), rel=2e-3)


def test_summary_of_known_differences():
    s = stats.summarise([1.0, 2.0, 3.0])
    assert (s["n"], s["estimate"], s["sd"], s["level"]) == (3, 2.0, 1.0, 0.95)
    assert s["low"] == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)
    # t = 2 / (1/√3) = 3.464 on 2 df: two-sided p = 0.0742 (from the t table)
    assert s["p"] == pytest.approx(0.0742, abs=1e-3)
    wide = stats.summarise([1.0, 2.0, 3.0], ALPHA9)          # t_{1-α/18, 2} = 13.36
    assert wide["low"] == pytest.approx(2 - 13.36 / math.sqrt(3), abs=1e-2)


# ---------------------------------------------------------------- the rule that decides

def test_holm_and_bonferroni_on_known_p_values():
    assert stats.holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06],
                                                                 nan_ok=True)
    assert stats.bonferroni(0.004) == pytest.approx(0.036) and stats.bonferroni(0.2) == 1.0
    assert stats.DECIDING == pytest.approx(0.05 / 9) and stats.FAMILY == 9


@pytest.mark.parametrize("values", [[1.0, 1.2, 0.9, 1.1, 1.05], [0.3, 0.1, 0.5, 0.2, 0.4],
                                    [0.1, -0.3, 0.4, 0.2, 0.0], [-2.0, -2.2, -1.9, -2.1, -2.05],
                                    [0.5, 0.1, 0.9, 0.3, 0.7, 0.2]])
def test_the_interval_excludes_zero_exactly_when_p_passes_alpha_over_9(values):
    s = stats.summarise(values, ALPHA9)
    excludes = s["low"] > 0 or s["high"] < 0
    assert excludes == (s["p"] < ALPHA9) == (stats.bonferroni(s["p"]) < 0.05)
    assert (stats.direction(s) != "inconclusive") == excludes


@pytest.mark.parametrize("values,paper,bound,direction,size", [
    ([1.9, 2.1, 2.0, 2.2, 2.05], 2.0, None, "paper", "consistent"),
    ([1.9, 2.1, 2.0, 2.2, 2.05], 6.0, None, "paper", "smaller"),
    ([1.9, 2.1, 2.0, 2.2, 2.05], 0.4, None, "paper", "larger"),
    ([-1.9, -2.1, -2.0, -2.2, -2.05], 0.4, None, "opposite", "smaller"),
    ([0.5, -0.4, 0.3, -0.2, 0.1], 0.4, None, "inconclusive", "consistent"),
    ([0.5, -0.4, 0.3, -0.2, 0.1], None, None, "inconclusive", "n/a"),
    ([5.0], 2.0, None, "inconclusive", "n/a"),                 # one seed: no interval
    ([1.9, 2.1, 2.0, 2.2, 2.05], 2.0, "lower", "paper", "n/a"),  # a lower bound above 0
    ([1.9, 2.1, 2.0, 2.2, 2.05], 2.0, "upper", "inconclusive", "n/a"),
    ([-1.9, -2.1, -2.0, -2.2, -2.05], 2.0, "lower", "inconclusive", "n/a"),
])
def test_two_part_verdicts_read_the_deciding_interval(values, paper, bound, direction, size):
    s = stats.summarise(values, ALPHA9)
    assert stats.direction(s, bound) == direction
    assert stats.size(s, paper, bound) == size


def test_power_is_planned_at_the_threshold_that_decides():
    # (t_{1-α/18, 4} + t_{.8, 4}) × sd / √5 = (5.437 + 0.941) / 2.236
    assert stats.mde(1.0, 5) == pytest.approx(6.378 / math.sqrt(5), abs=2e-3)
    assert stats.mde(1.0, 5, alpha=0.05) == pytest.approx(3.717 / math.sqrt(5), abs=2e-3)
    n = stats.seeds_needed(1.0, 1.0)
    assert stats.mde(1.0, n) <= 1.0 < stats.mde(1.0, n - 1)
    assert stats.seeds_needed(0.4, 1.0, high=60) is None      # overlap's 0.4 points: out of reach


# ---------------------------------------------------------------- counts (Figure 3)

def test_binomial_test_and_its_interval_agree():
    assert stats.binomial_test(5, 5, 0.05) == pytest.approx(2 * 0.05 ** 5)
    for k in range(6):
        low, high = stats.clopper_pearson(k, 5, ALPHA9)
        outside = low > 0.05 or high < 0.05
        assert outside == (stats.binomial_test(k, 5, 0.05) < ALPHA9), k
    low, high = stats.clopper_pearson(3, 7, 0.05)             # SciPy: 0.0990 to 0.8159
    assert (low, high) == pytest.approx((0.09899, 0.81595), abs=1e-4)
    assert stats.binomial_seeds(0.8, 0.05) == 4 and stats.binomial_power(5, 0.8, 0.05) > 0.9


# ---------------------------------------------------------------- verdicts in words

def _context(testable=True, needs=None, why=None):
    return SimpleNamespace(claim_plan=lambda name: {"testable": testable, "seeds_needed": needs,
                                                    "why": why})


def _finalised(result):
    result.update(verdict(result))
    result["verdict_words"] = words(result)
    return result


def test_a_verdict_and_its_interval_say_the_same_thing():
    found = _finalised(primary("lrn", make_test("x", [1.9, 2.1, 2.0, 2.2, 2.05], "pp", "2",
                                                "m", 2.0), _context()))
    assert found["level"] == pytest.approx(1 - ALPHA9) and found["direction"] == "paper"
    assert "99.44% CI" in estimate_text(found)
    assert found["verdict_words"].startswith("The paper's direction: the 99.44% interval "
                                             "excludes zero. The paper's 2.0 points lies inside")
    weak = _finalised(primary("lrn", make_test("y", [0.5, -0.4, 0.3, -0.2, 0.1], "pp", "2", "m",
                                               2.0), _context()))
    assert weak["direction"] == "inconclusive" and weak["low"] < 0 < weak["high"]
    assert weak["verdict_words"].startswith("Inconclusive: the 99.44% interval includes zero.")
    for text in (found["verdict_words"], weak["verdict_words"]):     # whole sentences only
        assert text.endswith(".") and "; the paper's" not in text


def test_a_censored_estimate_is_not_estimable_and_has_no_size():
    ratio = [math.log(1.76)] * 3 + [math.log(1.8), math.log(1.7)]
    found = _finalised(primary("relu", make_test("epochs", ratio, "log", "6×", "m", math.log(6),
                                                 bound="lower"), _context()))
    assert estimate_text(found) == "not estimable (≥×1.76)"
    assert found["size"] == "n/a" and found["direction"] == "paper"
    assert "Size not estimable" in found["verdict_words"]


def test_a_claim_the_budget_cannot_power_says_so_and_gets_no_verdict():
    found = _finalised(primary("overlap", make_test("x", [0.5, 0.1, 0.9, 0.3, 0.7], "pp", "0.4",
                                                    "m", 0.4),
                               _context(False, 130, "needs more than 60 seeds")))
    assert found["direction"] == "not testable" and found["level"] == pytest.approx(0.95)
    assert found["verdict_words"].startswith("Not testable at this scale (needs 130 seeds")
    secondary = _finalised(make_test("gap", [1.0, 2.0, 3.0], "pp", "-", "m"))
    assert secondary["direction"] is None
    assert secondary["verdict_words"] == ("Secondary result (95% interval, not adjusted): "
                                          "no verdict.")


def test_figure3_counts_networks_that_split_against_chance():
    found = _finalised(count_test("filters", [True] * 5, [False, False], _context()))
    assert (found["estimate"], found["direction"], found["size"]) == (1.0, "paper", "consistent")
    assert found["p"] == pytest.approx(2 * 0.05 ** 5) and found["low"] > 0.05
    assert estimate_text(found).startswith("5 of 5 (100%) (99.44% CI")
    assert "0 of 2 groups=1 controls split." in found["verdict_words"]
    none = _finalised(count_test("filters", [False, True, False, False, False], [False, True],
                                 _context()))
    assert none["direction"] == "inconclusive" and none["low"] < 0.05


# ---------------------------------------------------------------- the plan

def _pilot(sd_a, sd_b, minutes):
    values = {"worse": [10 + sd_a * z for z in (-1.2, -0.4, 0.0, 0.4, 1.2)],
              "better": [8 + sd_b * z for z in (-1.2, -0.4, 0.0, 0.4, 1.2)]}
    arms = {f"r/{a}": {"regime": "r", "label": a, "minutes": minutes, "measured": True,
                       "trained": 5, "least_seeds": 5} for a in "abcd"}
    claims = {"big": {"regime": "r", "arms": ["r/a", "r/b"], "kind": "paired", "effect": 2.0,
                      "values": values},
              "small": {"regime": "r", "arms": ["r/a", "r/c"], "kind": "paired", "effect": 0.4,
                        "values": values},
              "mid": {"regime": "r", "arms": ["r/a", "r/d"], "kind": "paired", "effect": 1.0,
                      "values": values}}
    return {"claims": claims, "arms": arms, "spent_minutes": 4 * 5 * minutes}


def test_the_plan_uses_the_noisier_arm_and_moves_the_costliest_claim_out():
    pilot = _pilot(1.0, 0.5, 10.0)
    sd = math.sqrt(2) * stats.summarise(pilot["claims"]["big"]["values"]["worse"])["sd"]
    assert planned_sd(pilot["claims"]["big"]["values"]) == pytest.approx(sd)
    scale = SimpleNamespace(name="x", min_seeds=5, max_seeds=60, budget_minutes=600.0)
    plan = make_plan(pilot, scale)
    big, mid, small = (plan["claims"][n] for n in ("big", "mid", "small"))
    assert big["seeds_needed"] == stats.seeds_needed(2.0, sd, low=5, high=60)
    assert small["seeds_needed"] is None and not small["testable"]   # 0.4 needs > 60 seeds
    assert plan["total_minutes"] <= 600
    if not mid["testable"]:                    # it cost the most, so it went first
        assert plan["moved_to_not_testable"] == ["mid"] and "exceeded the budget" in mid["why"]
    roomy = make_plan(pilot, SimpleNamespace(**{**vars(scale), "budget_minutes": 1e6}))
    assert roomy["claims"]["mid"]["testable"] and roomy["moved_to_not_testable"] == []
    assert roomy["arms"]["r/d"]["seeds"] == roomy["claims"]["mid"]["seeds_needed"]
    assert roomy["arms"]["r/c"]["seeds"] == 5         # only an untestable claim uses it
    assert "not testable at this scale" in plan_table(plan)


def test_a_pilot_over_the_budget_keeps_the_claims_it_already_powers():
    pilot = _pilot(0.1, 0.1, 10.0)                  # tiny spreads: 5 seeds power "big" and "mid"
    pilot["spent_minutes"] = 1000.0                 # the pilot alone ran past the 600 minutes
    plan = make_plan(pilot, SimpleNamespace(name="x", min_seeds=5, max_seeds=60,
                                            budget_minutes=600.0))
    for name in ("big", "mid"):
        assert plan["claims"][name]["seeds_needed"] == 5 and plan["claims"][name]["testable"]
    assert plan["moved_to_not_testable"] == [] and plan["total_minutes"] == 1000.0
    costly = make_plan(_pilot(2.0, 2.0, 10.0) | {"spent_minutes": 1000.0},
                       SimpleNamespace(name="x", min_seeds=5, max_seeds=60, budget_minutes=600.0))
    assert not any(c["testable"] for c in costly["claims"].values())   # each needed more seeds

def test_every_claim_declares_one_primary_test():
    assert set(reproduce.PRIMARY) == set(reproduce.CLAIMS)
    for name, p in reproduce.PRIMARY.items():
        assert p.effect > 0 and p.source, name
        if p.regime != "figure1":
            assert all(i < len(reproduce.ARMS[p.regime]) for i in p.arms), name


# ---------------------------------------------------------------- the rerun check

def test_the_rerun_tolerance_rejects_a_relu_half_again_slower():
    from alexnet.reproduce.settings import CROSS_CPU

    shipped = CROSS_CPU["AMD EPYC (2 threads)"]
    tolerance = stats.rerun_tolerance(list(CROSS_CPU.values()))
    assert all(v is not None for v in CROSS_CPU.values()), "measure the second CPU"
    assert abs(1.5 * shipped - shipped) > tolerance        # a ReLU 50% slower fails the check
    assert tolerance >= 0.5
