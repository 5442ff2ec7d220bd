#!/usr/bin/env python3
"""The PyTorch side of bench/real.ts: the same work as ours on the same model file, float32 on
the CPU, eager attention (what transformers runs on CPU with torch 1.13: no SDPA), so the ratio
compares engines, not algorithms.

  python3 bench/real/torch_cpu.py MODE --model DIR [--seq 512] [--batch 1] [--steps 2]
         [--threads N] [--dump F]

MODE:
  logprobs   one forward of batch x seq without grad, token log-probs (--dump writes row 0's)
  generate   greedy decoding of 64 new tokens after a 32-token prompt, with a KV cache
  sft-lora   SFT step (cross-entropy on every next token), LoRA r 16 alpha 32 on every linear
             projection (q k v o gate up down), AdamW on the adapters
  sft-full   the same with every weight trained, AdamW on all of them
  kto-lora   KTO step (TRL loss, beta 0.1, lambda_D 1.375, lambda_U 1) on batch rows of
             prompt seq/2 + completion seq/2 with LoRA as above: policy log-probs with grad,
             KL-pair log-probs without, reference log-probs given (as from our cache)

Prints one JSON line: seconds of each step (the first is warm-up), tokens/s of the best timed
step (batch x seq per step; new tokens for generate), peak RSS in MiB.
"""
import argparse, json, math, os, resource, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.environ.get("KO_ALIGN_REF_DIR", "/work/shared/reference"))
from llama_ref import read_safetensors  # noqa: E402

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Model(torch.nn.Module):
    def __init__(self, cfg, weights, lora_r=0, full=False):
        super().__init__()
        self.cfg = cfg
        self.w = {}
        for k, v in weights.items():
            p = torch.nn.Parameter(v.float(), requires_grad=full)
            self.w[k] = p
            self.register_parameter(k.replace(".", "/"), p)
        self.lora = {}
        if lora_r:
            g = torch.Generator().manual_seed(0)
            for k, v in weights.items():
                mod = k[: -len(".weight")]
                if k.endswith(".weight") and mod.split(".")[-1] in PROJ:
                    out, inp = v.shape
                    bound = 1 / math.sqrt(inp)
                    a = torch.nn.Parameter((torch.rand(lora_r, inp, generator=g) * 2 - 1) * bound)
                    b = torch.nn.Parameter(torch.zeros(out, lora_r))
                    self.lora[mod] = (a, b)
                    self.register_parameter(mod.replace(".", "/") + "/A", a)
                    self.register_parameter(mod.replace(".", "/") + "/B", b)
        self.scale = 32.0 / lora_r if lora_r else 0.0
        c = cfg
        self.hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", 10000.0)
        self.inv = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))

    def lin(self, x, mod):
        y = F.linear(x, self.w[mod + ".weight"], self.w.get(mod + ".bias"))
        if mod in self.lora:
            a, b = self.lora[mod]
            y = y + F.linear(F.linear(x, a), b) * self.scale
        return y

    @staticmethod
    def rms(x, w, eps):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def forward(self, ids, cache=None):
        c = self.cfg
        A, K, hd = c["num_attention_heads"], c["num_key_value_heads"], self.hd
        eps = c.get("rms_norm_eps", 1e-6)
        B, T = ids.shape
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[2]
        x = self.w["model.embed_tokens.weight"][ids]
        f = torch.outer(torch.arange(past, past + T, dtype=torch.float32), self.inv)
        e = torch.cat([f, f], -1)
        cos, sin = e.cos(), e.sin()
        S = past + T
        mask = torch.full((T, S), float("-inf")).triu(past + 1)
        rot = lambda t: torch.cat([-t[..., hd // 2:], t[..., : hd // 2]], -1)
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"], eps)
            q = self.lin(h, p + "self_attn.q_proj").view(B, T, A, hd).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj").view(B, T, K, hd).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj").view(B, T, K, hd).transpose(1, 2)
            q = q * cos + rot(q) * sin
            k = k * cos + rot(k) * sin
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            k = k.repeat_interleave(A // K, dim=1)
            v = v.repeat_interleave(A // K, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, A * hd)
            x = x + self.lin(o, p + "self_attn.o_proj")
            h = self.rms(x, self.w[p + "post_attention_layernorm.weight"], eps)
            x = x + self.lin(F.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = self.rms(x, self.w["model.norm.weight"], eps)
        head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])
        return F.linear(x, head)


def ids_for(B, T, V, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["logprobs", "generate", "sft-lora", "sft-full", "kto-lora"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--input", help="JSONL of {input_ids} rows to score (logprobs)")
    ap.add_argument("--dump")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    weights = read_safetensors(os.path.join(a.model, "model.safetensors"))
    V = cfg["vocab_size"]
    m = Model(cfg, weights, lora_r=16 if a.mode in ("sft-lora", "kto-lora") else 0, full=a.mode == "sft-full")
    del weights
    times, tokens = [], a.batch * a.seq
    if a.mode == "logprobs":
        rows = [json.loads(l)["input_ids"] for l in open(a.input)] if a.input else [ids_for(1, a.seq, V, 0)[0].tolist()]
        out = []
        with torch.no_grad():
            for r in rows:
                t0 = time.time()
                ids = torch.tensor([r])
                lp = torch.log_softmax(m(ids)[0, :-1].double(), -1).gather(1, ids[0, 1:, None])[:, 0]
                out.append(lp.tolist())
                times.append(time.time() - t0)
        tokens = len(rows[0])
        if a.dump:
            with open(a.dump, "w") as f:
                for lp in out:
                    f.write(json.dumps({"token_logprobs": lp}) + "\n")
        best = min(times)
    elif a.mode == "generate":
        prompt = ids_for(1, 32, V, 1)
        with torch.no_grad():
            for _ in range(a.steps + 1):
                t0 = time.time()
                cache = [None] * cfg["num_hidden_layers"]
                logits = m(prompt, cache)
                for _ in range(64):
                    nxt = logits[:, -1].argmax(-1, keepdim=True)
                    logits = m(nxt, cache)
                times.append(time.time() - t0)
        tokens = 64
        best = min(times[1:])
    else:
        params = [p for p in m.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-5)
        ids = ids_for(a.batch, a.seq, V, 2)
        half = a.seq // 2
        ref = torch.zeros(a.batch)
        ref_kl = torch.zeros(a.batch)
        label = torch.tensor([i % 2 == 0 for i in range(a.batch)])

        def logps(x):
            logits = m(x)[:, half - 1 : -1]
            return torch.log_softmax(logits, -1).gather(2, x[:, half:, None])[..., 0].sum(1)

        for _ in range(a.steps + 1):
            t0 = time.time()
            if a.mode.startswith("sft"):
                logits = m(ids)
                loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
            else:
                pol = logps(ids)
                kl_ids = torch.cat([ids[:, :half], ids.roll(1, 0)[:, half:]], 1)
                with torch.no_grad():
                    kl = (logps(kl_ids) - ref_kl).mean().clamp(min=0)
                r = pol - ref
                loss = torch.where(label, 1.375 * (1 - torch.sigmoid(0.1 * (r - kl))), 1 - torch.sigmoid(0.1 * (kl - r))).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            times.append(time.time() - t0)
        best = min(times[1:])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": a.mode, "step_seconds": times, "tokens_per_s": tokens / best, "peak_rss_mib": rss, "threads": a.threads}))


if __name__ == "__main__":
    main()
