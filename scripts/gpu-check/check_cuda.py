#!/usr/bin/env python3
"""CUDA check for AFT Studio's ONNX path (docs/gpu-check.md). Run next to the artifacts that
scripts/gpu-check/prepare.ts wrote: every model is opened with onnxruntime's CUDA execution
provider, must really run on it, must match the outputs onnxruntime-node computed on a CPU
(max |diff| <= 1e-4 with TF32 off), and is timed on CUDA (TF32 on and off) and on the CPU.
Needs python3 with numpy and onnxruntime-gpu (or onnxruntime built with CUDA). Prints and writes
gpu-check-result.json; exits 1 if any check fails."""
import json, os, sys, time
import numpy as np
import onnxruntime as ort

here = os.path.dirname(os.path.abspath(__file__))
manifest = json.load(open(os.path.join(here, "manifest.json")))
result = {"onnxruntime": ort.__version__, "available_providers": ort.get_available_providers(),
          "onnxruntime_dir": os.path.dirname(ort.__file__), "models": [], "ok": True}
capi = os.path.join(result["onnxruntime_dir"], "capi")
result["provider_libraries"] = sorted(f for f in os.listdir(capi) if "providers" in f) if os.path.isdir(capi) else []
try:
    import torch
    result["torch_cuda"] = {"available": torch.cuda.is_available(), "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
except Exception as e:  # PyTorch is only used to name the GPU
    result["torch_cuda"] = {"error": str(e)}

def session(path, provider, tf32=True):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if provider == "cuda":
        return ort.InferenceSession(path, opts, providers=[("CUDAExecutionProvider", {"use_tf32": "1" if tf32 else "0"}), "CPUExecutionProvider"])
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

def timed(sess, feeds, rows, repeats=10):
    sess.run(None, feeds)
    sess.run(None, feeds)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2] / rows

for m in manifest:
    d = os.path.join(here, m["name"])
    feeds = {}
    for k in m["inputs"]:
        a = np.load(os.path.join(d, f"input.{k}.npy"))
        feeds[k] = a.astype(np.int64) if k in m["int64"] else a.astype(np.float32)
    rows = next(iter(feeds.values())).shape[0]
    entry = {"name": m["name"], "rows": rows}
    try:
        exact = session(os.path.join(d, "model.onnx"), "cuda", tf32=False)
        entry["providers"] = exact.get_providers()
        on_cuda = entry["providers"][0] == "CUDAExecutionProvider"
        outs = exact.run(m["outputs"], feeds)
        diffs = {k: float(np.max(np.abs(o - np.load(os.path.join(d, f"expected.{k}.npy"))))) for k, o in zip(m["outputs"], outs)}
        entry["max_abs_diff_vs_node_cpu"] = diffs
        entry["ms_per_example"] = {
            "cuda_tf32_off": timed(exact, feeds, rows),
            "cuda_tf32_on": timed(session(os.path.join(d, "model.onnx"), "cuda", tf32=True), feeds, rows),
            "cpu": timed(session(os.path.join(d, "model.onnx"), "cpu"), feeds, rows, repeats=3),
        }
        entry["ok"] = on_cuda and max(diffs.values()) <= 1e-4
        if not on_cuda:
            entry["why"] = "the session fell back to the CPU: the CUDA provider did not start"
    except Exception as e:
        entry["ok"] = False
        entry["why"] = str(e).splitlines()[0]
    result["ok"] = result["ok"] and entry["ok"]
    result["models"].append(entry)
    print(f"{'ok  ' if entry['ok'] else 'FAIL'} {m['name']}: {json.dumps({k: v for k, v in entry.items() if k not in ('name', 'ok')})}")

json.dump(result, open(os.path.join(here, "gpu-check-result.json"), "w"), indent=2)
print(json.dumps({k: v for k, v in result.items() if k != "models"}))
sys.exit(0 if result["ok"] else 1)
