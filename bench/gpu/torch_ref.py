#!/usr/bin/env python3
"""The PyTorch side of the GPU benchmark (issue 10): the same SFT and KTO training steps as
bench/gpu/bench.ts, on the same two models, with the Model class of the independent reference
(llama_ref.py: the same math as ours: RMSNorm, rotate-half RoPE, GQA by repeat, explicit causal
mask, SwiGLU), AdamW (betas 0.9/0.999, eps 1e-8, no clipping), one optimizer step per batch.

  SFT step: logits -> mean token cross-entropy over all next-token targets -> backward -> AdamW.
  KTO step: policy logp of (prompt, completion) with grad, policy logp of the KL pairs (prompt i,
            completion i-1 mod B) without grad, reference logps as constants (cached, as ours),
            TRL's KTO loss -> backward -> AdamW.

Modes: fp32 (TF32 off: what webgpu's f32 shaders compute), tf32 (TF32 matmuls allowed), bf16
(torch.autocast bfloat16, fp32 master weights). tokens/s = batch x seq / median timed step
(cuda.synchronize around each step; loss.item() each step, as our trainer reads its loss).

Prints one JSON line per (method, model, mode) and appends them to --out.

  python3 bench/gpu/torch_ref.py [--out torch.jsonl] [--device cuda|cpu] [--smoke]
      [--models 7m,100m] [--methods sft,kto] [--modes fp32,tf32,bf16]
"""
import argparse, importlib.util, json, math, os, statistics, sys, time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Keep in step with MODELS in bench.ts.
MODELS = {
    "7m": dict(name="7M", vocab=8192, hidden=256, layers=4, heads=8, kv_heads=4, inter=688, tie=False, batch=8, seq=256, warmup=2, timed=5),
    "100m": dict(name="~110M", vocab=32000, hidden=768, layers=12, heads=12, kv_heads=12, inter=2048, tie=True,
                 batch=int(os.environ.get("KO_ALIGN_GPU_BENCH_BATCH_100M", "8")), seq=512, warmup=1, timed=3),
}
SMOKE_MODELS = {
    "7m": dict(name="smoke-7m", vocab=256, hidden=32, layers=2, heads=4, kv_heads=2, inter=64, tie=False, batch=2, seq=16, warmup=1, timed=1),
    "100m": dict(name="smoke-100m", vocab=320, hidden=48, layers=2, heads=4, kv_heads=4, inter=96, tie=True, batch=2, seq=32, warmup=1, timed=1),
}


def find_reference():
    """llama_ref.py: $KO_ALIGN_LLAMA_REF, the copy pack.sh puts in .gpu/, or ../shared/reference."""
    for p in (os.environ.get("KO_ALIGN_LLAMA_REF"), os.path.join(ROOT, ".gpu", "llama_ref.py"),
              os.path.join(ROOT, "..", "shared", "reference", "llama_ref.py"), "/work/shared/reference/llama_ref.py"):
        if p and os.path.isfile(p):
            return p
    sys.exit("torch_ref.py: llama_ref.py not found (run bench/gpu/pack.sh, or set KO_ALIGN_LLAMA_REF)")


def load_reference(path):
    spec = importlib.util.spec_from_file_location("llama_ref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def config(m):
    hd = m["hidden"] // m["heads"]
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": m["vocab"], "hidden_size": m["hidden"],
        "intermediate_size": m["inter"], "num_hidden_layers": m["layers"], "num_attention_heads": m["heads"],
        "num_key_value_heads": m["kv_heads"], "head_dim": hd, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "tie_word_embeddings": m["tie"],
    }


def random_weights(m, device):
    """Same shapes (and init scale) as bench.ts writeBenchModel: N(0, 0.02^2), norms 1 + N(0, 0.02^2)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    r = lambda *s: (torch.randn(*s, generator=g, device="cpu") * 0.02).to(device)
    H, I, A, K = m["hidden"], m["inter"], m["heads"], m["kv_heads"]
    hd = H // A
    w = {"model.embed_tokens.weight": r(m["vocab"], H), "model.norm.weight": 1 + r(H)}
    for i in range(m["layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + r(H)
        w[p + "post_attention_layernorm.weight"] = 1 + r(H)
        w[p + "self_attn.q_proj.weight"] = r(A * hd, H)
        w[p + "self_attn.k_proj.weight"] = r(K * hd, H)
        w[p + "self_attn.v_proj.weight"] = r(K * hd, H)
        w[p + "self_attn.o_proj.weight"] = r(H, A * hd)
        w[p + "mlp.gate_proj.weight"] = r(I, H)
        w[p + "mlp.up_proj.weight"] = r(I, H)
        w[p + "mlp.down_proj.weight"] = r(H, I)
    if not m["tie"]:
        w["lm_head.weight"] = r(m["vocab"], H)
    return w


def build(ref, m, device):
    model = ref.Model(config(m), random_weights(m, device))
    return model.float().to(device)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def completion_logps(model, ids, mask):
    """Summed log p over positions where mask[:, 1:] is 1: [B]."""
    lp = model(ids).float().log_softmax(-1)[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    return (lp * mask[:, 1:]).sum(-1)


def bench_one(ref, key, m, method, mode, device):
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    model = build(ref, m, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4 if method == "sft" else 1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    B, T, V = m["batch"], m["seq"], m["vocab"]
    gen = torch.Generator(device="cpu").manual_seed(1)
    steps = m["warmup"] + m["timed"]
    batches = [torch.randint(3, V, (B, T), generator=gen, device="cpu").to(device) for _ in range(steps)]
    half = T // 2
    mask = torch.zeros(B, T, device=device)
    mask[:, half:] = 1
    labels = torch.tensor([i % 2 == 0 for i in range(B)], device=device)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=mode == "bf16")

    def step(ids):
        with autocast:
            if method == "sft":
                logits = model(ids)
                loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V).float(), ids[:, 1:].reshape(-1))
            else:
                kl_ids = torch.cat([ids[:, :half], ids.roll(1, 0)[:, half:]], 1)  # prompt i + completion i-1
                pol = completion_logps(model, ids, mask)
                with torch.no_grad():
                    pol_kl = completion_logps(model, kl_ids, mask)
                # Cached reference log-probs are constants here (as in ours): stand-in values.
                ref_lp = pol.detach() - 0.01
                ref_kl = pol_kl - 0.01
                loss = ref.kto_loss(pol[labels], ref_lp[labels], pol[~labels], ref_lp[~labels], pol_kl, ref_kl, 0.1, 1.0, 1.0)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    for ids in batches:
        sync(device)
        t0 = time.perf_counter()
        step(ids)
        sync(device)
        times.append(time.perf_counter() - t0)
    timed = times[m["warmup"]:]
    out = {
        "method": method, "model": key, "model_name": m["name"], "mode": mode, "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None, "torch": torch.__version__,
        "params": sum(p.numel() for p in model.parameters()), "batch": B, "seq": T,
        "tokens_per_s": B * T / statistics.median(timed), "best_tokens_per_s": B * T / min(timed),
        "step_seconds": [round(t, 5) for t in times], "warmup_steps": m["warmup"],
        "peak_mem_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None,
    }
    del model, opt, batches
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny models (CPU check of the code path)")
    ap.add_argument("--models", default="7m,100m")
    ap.add_argument("--methods", default="sft,kto")
    ap.add_argument("--modes", default="fp32,tf32,bf16")
    a = ap.parse_args()
    ref = load_reference(find_reference())
    # llama_ref builds its RoPE tables and causal mask with default-device factories.
    torch.set_default_dtype(torch.float32)
    if hasattr(torch, "set_default_device"):
        torch.set_default_device(a.device)
    elif a.device == "cuda":  # torch < 2.0
        torch.set_default_tensor_type(torch.cuda.FloatTensor)
    models = SMOKE_MODELS if a.smoke else MODELS
    modes = [x for x in a.modes.split(",") if a.device == "cuda" or x != "tf32"]
    failed = 0
    for key in a.models.split(","):
        for method in a.methods.split(","):
            for mode in modes:
                try:
                    res = bench_one(ref, key, models[key], method, mode, a.device)
                except Exception as e:  # one failing mode must not hide the others
                    failed += 1
                    res = {"method": method, "model": key, "mode": mode, "device": a.device, "error": f"{type(e).__name__}: {e}"[:500]}
                line = json.dumps(res)
                print(line, flush=True)
                if a.out:
                    with open(a.out, "a") as f:
                        f.write(line + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
