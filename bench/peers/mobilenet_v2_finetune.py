"""PyTorch side of graft's `mobilenet-v2-finetune` bench workload.

The part of MobileNetV2 graft trains when it unfreezes one block below its usual cut (torchvision's
features[18]: a 1x1 convolution 320 -> 1280, BatchNorm kept in eval mode as graft keeps a base's,
ReLU6), then graft's default head (global average pooling, dropout 0.2, a linear layer to 5
classes), trained with Adam 1e-4 in batches of 32 on cached inputs: random [N, 320, 7, 7] tensors,
what the frozen part below (block_16's projection) would give. Prints one JSON object on its last
stdout line.

Run: /usr/bin/python3 mobilenet_v2_finetune.py [--threads N] [--n N] [--epochs E]
"""
import argparse, json, time, warnings

warnings.filterwarnings("ignore")
import torch
import torch.nn as nn


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6())
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, 5))
    model = nn.Sequential(block, head)
    model.train()
    block[1].eval()  # BatchNorm normalises with its moving statistics, as graft keeps a base's
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x = torch.rand(a.n, 320, 7, 7) * 3
    y = torch.randint(0, 5, (a.n,))

    def epoch():
        for i in range(0, a.n, 32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            opt.step()

    epoch()  # warm-up
    t = time.perf_counter()
    for _ in range(a.epochs):
        epoch()
    dt = time.perf_counter() - t
    print(json.dumps({"workload": "mobilenet-v2-finetune", "peer": "pytorch", "version": torch.__version__,
                      "threads": torch.get_num_threads(), "n": a.n, "epochs": a.epochs,
                      "images_per_s": a.epochs * a.n / dt}))


if __name__ == "__main__":
    main()
