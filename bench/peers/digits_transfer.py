"""PyTorch reference for `graft experiment digits-transfer` (Keras's mnist_transfer_cnn protocol).

Reads the images and the exact splits graft uses, dumped by graft's own loadMnist and splitDataset:

  cd /work/main && node --import tsx bench/peers/digits-transfer-dump.ts /tmp/digits-dump
  /usr/bin/python3 bench/peers/digits_transfer.py --dump /tmp/digits-dump --seeds 1-10 --scratch-all-seeds 1-10 \
      [--base-cache /tmp/digits-dump/torch-base.pt] [--json OUT.json]

(2026-12-05, one thread of a 2-core machine shared with another job: 1,206 s CPU in all, 90 s of it the
pre-training; the system BLAS here is the reference one, so the dense layers go through oneDNN, see _mm_nt.)

What it runs, on one CPU thread:
  1. Pre-training as `graft pretrain digits` (src/pretrain/digits-cnn.ts): the mnist_transfer_cnn network
     (conv32-conv32-maxpool-dropout0.25-flatten-dense128-dropout0.5-dense5) on digits 0-4, graft's split
     (seed 0, 70/15/15), Adam 1e-3, batch 128, at most 12 epochs, early stopping on validation loss with
     patience 3 and the best epoch's weights restored.
  2. Per seed and label count (10, 50, all per class; val 10% / test 20% of each class as graft's split):
     transfer (convs frozen, cut at flatten, a new head dense128-relu-dropout0.5-dense5 trained on the frozen
     features, which graft computes once in inference mode) and scratch (the same network from random
     initialisation). Budget as graft's experiment: 10/50 per class up to 40 epochs, patience 6, batch 32;
     all labels 5 epochs, patience 2, batch 64. Adam 1e-3 (epsilon 1e-7 as TF.js), cross-entropy,
     early stopping on validation loss with the starting weights counting as epoch 0 (graft's keepInitial)
     and the best weights restored. Initialisers as TF.js's defaults (Glorot normal, truncated at 2 sd; zero
     biases). Flatten is in NHWC order, so graft's dense weights load unchanged.
  3. Variants of the transfer side at 10 per class (--variants): graft's own pre-trained trunk
     (models/digits-cnn), random shifts of +-2 px of the training images, longer patience, and Keras's
     dropout 0.25 on the frozen features while training (graft's cached features skip it), and combinations.

Prints a Markdown table per label count and, last, one JSON line with every run.
"""
import argparse, json, math, os, sys, time, warnings

warnings.filterwarnings("ignore")
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
GRAFT_WEIGHTS = os.path.join(HERE, "..", "..", "models", "digits-cnn")
ADAM_EPS = 1e-7  # TF.js's Adam epsilon (backend epsilon for float32)


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def parse_seeds(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = map(int, part.split("-"))
            out.extend(range(a, b + 1))
        else:
            out.append(int(part))
    return out


# --------------------------------------------------------------------------------------------
# The network, TF.js's initialisers


def glorot_normal_(w, fan_in, fan_out, gen=None):
    # tf.initializers.glorotNormal = VarianceScaling(scale 1, fan_avg, 'normal'): a truncated normal
    # (resampled beyond 2 sd) with sd sqrt(2 / (fan_in + fan_out)).
    sd = math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        nn.init.trunc_normal_(w, 0.0, sd, -2 * sd, 2 * sd)


class Trunk(nn.Module):
    """conv1, conv2, pool, dropout1 (0.25), flatten in NHWC order: the part below graft's cut."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 32, 3)
        self.drop = nn.Dropout(0.25)
        for c in (self.conv1, self.conv2):
            glorot_normal_(c.weight, 9 * c.in_channels, 9 * c.out_channels)
            nn.init.zeros_(c.bias)

    def forward(self, x):  # x: N,1,28,28 in [0,1]
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.drop(x)
        return x.permute(0, 2, 3, 1).flatten(1)  # 12*12*32 = 4608, NHWC like TF.js's flatten


def _mm_nt(a, b):
    """a @ b.T through oneDNN's inner product: torch's matmul here goes to the system's reference BLAS,
    ~10x slower (the dense layers' numbers agree to float32 rounding)."""
    return torch._C._nn.mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous(), None).to_dense()


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return _mm_nt(x, w) + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = _mm_nt(g, w.t()) if ctx.needs_input_grad[0] else None
        return gx, _mm_nt(g.t(), x.t()), g.sum(0)


def linear(layer, x):
    return _Linear.apply(x, layer.weight, layer.bias) if FAST_LINEAR else layer(x)


FAST_LINEAR = True


class Head(nn.Module):
    """dense 128 relu, dropout 0.5, dense softmax (the logits here; softmax in the loss)."""

    def __init__(self, classes, features=4608):
        super().__init__()
        self.dense1 = nn.Linear(features, 128)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(128, classes)
        for l in (self.dense1, self.out):
            glorot_normal_(l.weight, l.in_features, l.out_features)
            nn.init.zeros_(l.bias)

    def forward(self, f):
        return linear(self.out, self.drop(F.relu(linear(self.dense1, f))))


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.trunk = Trunk()
        self.head = Head(classes)

    def forward(self, x):
        return self.head(self.trunk(x))


def load_graft_weights(net, directory=GRAFT_WEIGHTS):
    """TF.js layers format (model.json + weights.bin) into Net: HWIO kernels to OIHW, [in, out] to [out, in]."""
    with open(os.path.join(directory, "model.json")) as f:
        mj = json.load(f)
    arrays = {}
    for group in mj["weightsManifest"]:
        buf = b"".join(open(os.path.join(directory, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            assert w["dtype"] == "float32"
            n = int(np.prod(w["shape"]))
            arrays[w["name"]] = np.frombuffer(buf, dtype="<f4", count=n, offset=at).reshape(w["shape"]).copy()
            at += 4 * n
    t = lambda a: torch.from_numpy(a)
    with torch.no_grad():
        net.trunk.conv1.weight.copy_(t(arrays["conv1/kernel"]).permute(3, 2, 0, 1))
        net.trunk.conv1.bias.copy_(t(arrays["conv1/bias"]))
        net.trunk.conv2.weight.copy_(t(arrays["conv2/kernel"]).permute(3, 2, 0, 1))
        net.trunk.conv2.bias.copy_(t(arrays["conv2/bias"]))
        net.head.dense1.weight.copy_(t(arrays["dense1/kernel"]).T)
        net.head.dense1.bias.copy_(t(arrays["dense1/bias"]))
        net.head.out.weight.copy_(t(arrays["predictions/kernel"]).T)
        net.head.out.bias.copy_(t(arrays["predictions/bias"]))
    return net


# --------------------------------------------------------------------------------------------
# Training: graft's fitStage (Adam, shuffled batches, early stopping on val loss, best restored)


@torch.no_grad()
def evaluate(model, x, y, batch=512):
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        loss += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return loss / len(x), correct / len(x)


def shift_images(x, px, gen):
    """Each image moved by a random whole number of pixels in [-px, px] each way, zeros shifted in."""
    n, c, h, w = x.shape
    padded = F.pad(x, (px, px, px, px))
    dy = torch.randint(0, 2 * px + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * px + 1, (n,), generator=gen)
    out = torch.empty_like(x)
    for k in range(n):
        out[k] = padded[k, :, dy[k]:dy[k] + h, dx[k]:dx[k] + w]
    return out


def fit(model, params, x, y, val, epochs, patience, batch, lr=1e-3, keep_initial=True, transform=None, gen=None):
    """Returns (epochs run, best epoch, best val loss); `model` is left with the best epoch's weights."""
    opt = torch.optim.Adam(params, lr=lr, eps=ADAM_EPS)
    best, best_epoch, best_state = math.inf, 0, None
    if keep_initial:
        best = evaluate(model, *val)[0]
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    ran = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb = x[idx] if transform is None else transform(x[idx])
            opt.zero_grad()
            F.cross_entropy(model(xb), y[idx]).backward()
            opt.step()
        ran = epoch
        v = evaluate(model, *val)[0]
        if v < best:
            best, best_epoch = v, epoch
            best_state = {k: v_.clone() for k, v_ in model.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return ran, best_epoch, best


class Cached(nn.Module):
    """The head on features already computed by a frozen trunk; optionally Keras's dropout 0.25 on them."""

    def __init__(self, head, feature_dropout=0.0):
        super().__init__()
        self.head = head
        self.drop = nn.Dropout(feature_dropout)

    def forward(self, f):
        return self.head(self.drop(f))


class Frozen(nn.Module):
    """Frozen trunk (always in inference mode, as graft's) + trainable head, on images."""

    def __init__(self, trunk, head, feature_dropout=0.0):
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.drop = nn.Dropout(feature_dropout)

    def forward(self, x):
        self.trunk.eval()
        with torch.no_grad():
            f = self.trunk(x)
        return self.head(self.drop(f))


@torch.no_grad()
def features(trunk, x, batch=512):
    trunk.eval()
    return torch.cat([trunk(x[i:i + batch]) for i in range(0, len(x), batch)])


# --------------------------------------------------------------------------------------------

BUDGET = {"small": dict(epochs=40, patience=6, batch=32), "all": dict(epochs=5, patience=2, batch=64)}

# name -> (trunk, shift px, patience, max epochs, feature dropout); None = the label count's budget.
VARIANTS = {
    "transfer": ("torch", 0, None, None, 0.0),
    "a graft trunk": ("graft", 0, None, None, 0.0),
    "b shift 2px": ("torch", 2, None, None, 0.0),
    "c patience 15": ("torch", 0, 15, 40, 0.0),
    "c patience 20 (100 ep)": ("torch", 0, 20, 100, 0.0),
    "d feature dropout 0.25": ("torch", 0, None, None, 0.25),
    "b+c shift + patience 20 (100 ep)": ("torch", 2, 20, 100, 0.0),
    "a+b": ("graft", 2, None, None, 0.0),
    "b+c+d": ("torch", 2, 15, 40, 0.25),
    "a+b+c+d": ("graft", 2, 15, 40, 0.25),
}

# The scratch network with the same shifts (costs a scratch run per seed): does augmentation favour transfer?
SCRATCH_SHIFT = "scratch b shift 2px"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dump", default="/tmp/digits-dump")
    p.add_argument("--seeds", default="1-10")
    p.add_argument("--labels", default="10,50,all", help="label counts for transfer and scratch")
    p.add_argument("--variants", default=",".join([*VARIANTS, SCRATCH_SHIFT]), help="variants run at --variant-labels (comma-separated names)")
    p.add_argument("--variant-labels", default="10", help="label counts the variants run at")
    p.add_argument("--scratch-all-seeds", default="", help="seeds for scratch with all labels (costly; default none)")
    p.add_argument("--pretrain-seed", type=int, default=0)
    p.add_argument("--base-cache", default="", help="file to keep the PyTorch-pre-trained base in (read if it exists)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default="")
    p.add_argument("--plain-linear", action="store_true", help="dense layers through torch's matmul (BLAS) instead of oneDNN")
    a = p.parse_args()
    global FAST_LINEAR
    FAST_LINEAR = not a.plain_linear
    torch.set_num_threads(a.threads)
    cpu0, wall0 = time.process_time(), time.perf_counter()

    meta = json.load(open(os.path.join(a.dump, "splits.json")))
    def images(name, n):
        u8 = np.fromfile(os.path.join(a.dump, name), dtype=np.uint8)
        assert u8.size == n * 784, (name, u8.size, n)
        return torch.from_numpy(u8.reshape(n, 1, 28, 28).astype(np.float32) / 255.0)  # graft: pixel/255, mean 0, sd 1

    pre, tgt = meta["pretrain"], meta["target"]
    px, py = images("pretrain.u8", len(pre["labels"])), torch.tensor(pre["labels"])
    tx, ty = images("target.u8", len(tgt["labels"])), torch.tensor(tgt["labels"])
    ix = lambda l: torch.tensor(l, dtype=torch.long)
    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "runs": []}

    # 1. Pre-training on digits 0-4 as graft did.
    s = pre["split"]
    torch.manual_seed(a.pretrain_seed)
    gen = torch.Generator().manual_seed(a.pretrain_seed)
    base = Net(5)
    c = time.process_time()
    if a.base_cache and os.path.exists(a.base_cache):
        saved = torch.load(a.base_cache)
        base.load_state_dict(saved["state"])
        ran, best_epoch, best = saved["ran"], saved["best_epoch"], saved["best"]
        log(f"pre-trained base read from {a.base_cache} (its CPU time not counted again)")
    else:
        ran, best_epoch, best = fit(base, base.parameters(), px[ix(s["train"])], py[ix(s["train"])], (px[ix(s["val"])], py[ix(s["val"])]),
                                    epochs=12, patience=3, batch=128, keep_initial=False, gen=gen)
        if a.base_cache:
            torch.save(dict(state=base.state_dict(), ran=ran, best_epoch=best_epoch, best=best), a.base_cache)
    test_acc = evaluate(base, px[ix(s["test"])], py[ix(s["test"])])[1]
    graft_base = load_graft_weights(Net(5))
    graft_acc = evaluate(graft_base, px[ix(s["test"])], py[ix(s["test"])])[1]
    results["pretrain"] = dict(train=len(s["train"]), val=len(s["val"]), test=len(s["test"]), epochs_run=ran, best_epoch=best_epoch,
                               best_val_loss=best, test_accuracy=test_acc, graft_weights_test_accuracy=graft_acc,
                               cpu_s=time.process_time() - c)
    log(f"pretrain: {ran} epochs (best {best_epoch}, val loss {best:.4f}), test {100 * test_acc:.2f}% on {len(s['test'])}; "
        f"graft's weights in this net: {100 * graft_acc:.2f}%  [{time.process_time() - c:.0f} s CPU]")
    trunks = {"torch": base.trunk, "graft": graft_base.trunk}
    for t in trunks.values():
        for q in t.parameters():
            q.requires_grad_(False)

    seeds = parse_seeds(a.seeds)
    labels = [x for x in a.labels.split(",") if x]
    variant_labels = [x for x in a.variant_labels.split(",") if x]
    variants = [v for v in a.variants.split(",") if v]
    scratch_all = set(parse_seeds(a.scratch_all_seeds)) if a.scratch_all_seeds else set()

    for seed in seeds:
        sp = tgt["seeds"][str(seed)]
        xv, yv = tx[ix(sp["val"])], ty[ix(sp["val"])]
        xt, yt = tx[ix(sp["test"])], ty[ix(sp["test"])]
        feats = {k: (features(t, xv), features(t, xt)) for k, t in trunks.items()}
        for n in sorted(set(labels) | set(variant_labels), key=lambda z: (z == "all", z)):
            tr = ix(sp["train"][n])
            xtr, ytr = tx[tr], ty[tr]
            budget = BUDGET["all" if n == "all" else "small"]
            todo = []
            if n in labels:
                todo.append("transfer")
                if n != "all" or seed in scratch_all:
                    todo.append("scratch")
            if n in variant_labels:
                todo += [v for v in variants if v != "transfer" and v != SCRATCH_SHIFT]
                if SCRATCH_SHIFT in variants:
                    todo.append(SCRATCH_SHIFT)
                if "transfer" in variants and "transfer" not in todo:
                    todo.insert(0, "transfer")
            for setup in todo:
                c = time.process_time()
                torch.manual_seed(seed)  # the same new head (and scratch net) for every variant of a seed
                gen = torch.Generator().manual_seed(seed)
                if setup.startswith("scratch"):
                    net = Net(5)
                    shift = (lambda xb: shift_images(xb, 2, gen)) if setup == SCRATCH_SHIFT else None
                    ran, be, bl = fit(net, net.parameters(), xtr, ytr, (xv, yv), gen=gen, transform=shift, **budget)
                    acc = evaluate(net, xt, yt)[1]
                else:
                    trunk_name, shift, patience, epochs, fdrop = VARIANTS[setup]
                    head = Head(5)
                    b = dict(budget)
                    if patience is not None:
                        b.update(patience=patience, epochs=epochs)
                    fv, ft = feats[trunk_name]
                    if shift == 0:
                        model = Cached(head, fdrop)
                        ran, be, bl = fit(model, head.parameters(), features(trunks[trunk_name], xtr), ytr, (fv, yv), gen=gen, **b)
                    else:
                        model = Frozen(trunks[trunk_name], head, fdrop)
                        tf_ = lambda xb: shift_images(xb, shift, gen)
                        # validation on cached features: the same numbers as the trunk run on the images
                        cached = Cached(head, fdrop)
                        ran, be, bl = fit_mixed(model, cached, head.parameters(), xtr, ytr, (fv, yv), tf_, gen, **b)
                    acc = evaluate(Cached(head), ft, yt)[1]
                r = dict(seed=seed, labels=n, setup=setup, accuracy=acc, epochs_run=ran, best_epoch=be, best_val_loss=bl,
                         train=len(tr), val=len(sp["val"]), test=len(sp["test"]), cpu_s=time.process_time() - c)
                results["runs"].append(r)
                log(f"seed {seed:2d} {n:>3}/class {setup:24s} {100 * acc:6.2f}%  epochs {ran:3d} (best {be:3d})  [{r['cpu_s']:.1f} s]")

    results["cpu_s"] = time.process_time() - cpu0
    results["wall_s"] = time.perf_counter() - wall0
    print(report(results, seeds))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f)
    print(json.dumps(results))


def fit_mixed(model, cached, params, x, y, val, transform, gen, epochs, patience, batch, lr=1e-3):
    """fit() for a head trained through a frozen trunk on transformed images, validated on cached features."""
    opt = torch.optim.Adam(params, lr=lr, eps=ADAM_EPS)
    best = evaluate(cached, *val)[0]
    best_epoch, best_state = 0, {k: v.clone() for k, v in cached.head.state_dict().items()}
    ran = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            F.cross_entropy(model(transform(x[idx])), y[idx]).backward()
            opt.step()
        ran = epoch
        v = evaluate(cached, *val)[0]
        if v < best:
            best, best_epoch = v, epoch
            best_state = {k: t.clone() for k, t in cached.head.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    cached.head.load_state_dict(best_state)
    return ran, best_epoch, best


def report(results, seeds):
    runs = results["runs"]
    pt = results["pretrain"]
    lines = [f"PyTorch {results['torch']}, {results['threads']} thread(s); {results['cpu_s']:.0f} s CPU, {results['wall_s']:.0f} s wall",
             f"pre-training on digits 0-4 ({pt['train']} train / {pt['val']} val / {pt['test']} test): {pt['epochs_run']} epochs, best epoch "
             f"{pt['best_epoch']}, test {100 * pt['test_accuracy']:.2f}% (graft's own weights loaded here: {100 * pt['graft_weights_test_accuracy']:.2f}%)", ""]
    for n in dict.fromkeys(r["labels"] for r in runs):
        setups = list(dict.fromkeys(r["setup"] for r in runs if r["labels"] == n))
        lines.append(f"test accuracy (%), {n} labels per class")
        lines.append("")
        lines.append("| setup | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | min | max | mean epochs |")
        lines.append("|---" * (len(seeds) + 5) + "|")
        for st in setups:
            by = {r["seed"]: r for r in runs if r["labels"] == n and r["setup"] == st}
            accs = [100 * by[s]["accuracy"] for s in seeds if s in by]
            cells = [f"{100 * by[s]['accuracy']:.2f}" if s in by else "" for s in seeds]
            ep = np.mean([by[s]["epochs_run"] for s in seeds if s in by])
            lines.append(f"| {st} | " + " | ".join(cells) + f" | {np.mean(accs):.2f} | {min(accs):.2f} | {max(accs):.2f} | {ep:.1f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
