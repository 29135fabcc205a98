"""The short table ``alexnet bench`` prints last."""
from __future__ import annotations

__all__ = ["format_table"]


def _ms(entry: dict) -> str:
    if "median_s" in entry:
        return (f"{entry['median_s'] * 1e3:9.2f}  ({entry['min_s'] * 1e3:.2f}-"
                f"{entry['max_s'] * 1e3:.2f})")
    return entry.get("error") or entry.get("skipped", "")


def _range(r: dict) -> str:
    return f"{r['median']:.2f}x (range {r['min']:.2f}-{r['max']:.2f})"


def _pair_lines(part: dict, label: str) -> list[str]:
    lines = []
    for key, entry in part.items():
        if key.startswith("speed_"):
            first, other = key[len("speed_"):].split("_over_")
            lines.append(f"  {label}: {part[first]['name']} runs at {_range(entry)} the speed of "
                         f"{part[other]['name']}")
        elif "name" in entry:
            rate = f"{entry['images_per_s']:8,.1f} img/s" if "images_per_s" in entry else ""
            lines.append(f"  {label} {entry['name']:40s}{rate}  ms/step {_ms(entry)}")
    return lines


def format_table(result: dict) -> str:
    """The short summary printed at the end of a run."""
    s, lines = result["settings"], []
    mode = ("compiled" if s["compile"] else "eager") + (" + CUDA graphs" if s["cuda_graphs"] else "")
    load = result.get("load_average_end")
    lines.append(f"{result['device']} | {s['precision']} | "
                 f"{'channels-last' if s['channels_last'] else 'NCHW'} | {mode} | batch "
                 f"{s['batch_size']} (CIFAR {s['cifar_batch_size']}) | load {load} | commit "
                 f"{(result.get('git_commit') or 'unknown')[:10]}")
    caches = result.get("cpu_caches", {})
    sizes = ", ".join(f"{k} {caches[k] >> 10:,} KiB" for k in ("L1d", "L2", "L3") if k in caches)
    lines.append(f"  {s.get('threads')} threads, {s.get('contention', 0)} busy processes beside; "
                 f"CPU caches {sizes} ({caches.get('source', 'unknown')})")
    for part, label in (("train", "train"), ("cifar", "cifar")):
        if part in result:
            lines += _pair_lines(result[part], label) if "error" not in result[part] \
                else [f"  {label}: {result[part]['error']}"]
    lrn = result.get("lrn", {})
    if "floor" in lrn:
        lines.append(f"  LRN fwd+bwd {'x'.join(map(str, lrn['shape']))} {lrn['dtype']}: floor "
                     f"{lrn['floor']['median_s'] * 1e3:.2f} ms ({lrn['floor_bytes'] / 1e9:.2f} GB "
                     f"at {lrn['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s); with fresh outputs "
                     f"{lrn['floor_fresh']['median_s'] * 1e3:.2f} ms")
    for key in ("package", "package_contended", "analytic", "reference", "torch",
                "torch_contended", "fused", "compiled_reference"):
        if key in lrn:
            entry = lrn[key]
            times = f" {_range(entry['times_floor'])} floor" if "times_floor" in entry else ""
            lines.append(f"    {key:20s} ms {_ms(entry)}{times}")
    for key, label in (("package_speed_over_torch", "package LRN speed / stock LRN's"),
                       ("package_speed_over_torch_contended", "the same, busy processes beside"),
                       ("package_contended_over_quiet", "package LRN time, busy beside / quiet"),
                       ("torch_contended_over_quiet", "stock LRN time, busy beside / quiet")):
        if key in lrn:
            lines.append(f"    {label}: {_range(lrn[key])}")
    inputs = result.get("input", {})
    for key, label in (("tensors", "on-device tensors"), ("folder", "JPEG folder")):
        entry = inputs.get(key, {})
        if "images_per_s" in entry:
            extra = f", {entry['workers']} workers" if "workers" in entry else ""
            lines.append(f"  input, {label}{extra}: {entry['images_per_s']:,.0f} img/s")
        elif entry:
            lines.append(f"  input, {label}: {_ms(entry)}")
    for count, row in result.get("workers", {}).get("workers", {}).items():
        lines.append(f"  AlexNet step from a JPEG folder, {count} workers: "
                     f"{_range(row['slowdown'])} the in-memory step's time; workers' CPU share "
                     f"{row['workers_cpu_share']:.0%}")
    if "error" in result.get("workers", {}):
        lines.append(f"  workers: {result['workers']['error']}")
    return "\n".join(lines)
