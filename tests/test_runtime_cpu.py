"""alexnet.runtime.cpu_caches: read from the system, with a stated fallback."""
import sys

import pytest

import alexnet.runtime as runtime


def test_caches_are_read_from_the_system():
    caches = runtime.cpu_caches()
    assert caches["L1d"] > 0 and caches["L2"] > caches["L1d"] and caches["L3_shared_by"] >= 1
    if sys.platform == "linux":
        assert caches["source"].startswith("/sys/devices/system/cpu/cpu0/cache")


def test_sysfs_layout_is_parsed(tmp_path, monkeypatch):
    for i, (level, kind, size, cpus) in enumerate([("1", "Data", "48K", "0"),
                                                  ("1", "Instruction", "64K", "0"),
                                                  ("2", "Unified", "2048K", "0"),
                                                  ("3", "Unified", "30M", "0-3,8-11")]):
        folder = tmp_path / f"index{i}"
        folder.mkdir()
        for name, text in (("level", level), ("type", kind), ("size", size),
                           ("shared_cpu_list", cpus)):
            (folder / name).write_text(text + "\n")
    monkeypatch.setattr(runtime, "Path", lambda _: tmp_path)
    caches = runtime.cpu_caches.__wrapped__()
    assert (caches["L1d"], caches["L2"], caches["L3"]) == (48 << 10, 2 << 20, 30 << 20)
    assert caches["L3_shared_by"] == 8


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS asks sysctl first")
def test_nothing_readable_falls_back_to_the_stated_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "Path", lambda _: tmp_path)
    monkeypatch.setattr(runtime.os, "sysconf_names", {}, raising=False)
    caches = runtime.cpu_caches.__wrapped__()
    assert caches["source"] == "assumed"
    assert {k: caches[k] for k in runtime.ASSUMED_CACHES} == runtime.ASSUMED_CACHES
